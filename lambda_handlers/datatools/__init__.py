"""Local data tools behind the ``bedrock-customize`` CLI: split, augment, prepare RFT records,
price, compare serving costs.

Pure functions over files on disk; nothing here calls AWS, so they run on a laptop before
any data is uploaded, and tests run them without credentials.
"""
