"""Training-data validation that knows Bedrock's real formats and quotas.

Pure Python, importable without AWS. One engine, used by the workflow's Validate
state (reading from S3), the ``bedrock-customize validate`` command and the library:

    from lambda_handlers.validation import validate_dataset, open_source
    report = validate_dataset(open_source("train.jsonl"), None,
                              customization_type="FINE_TUNING",
                              base_model="amazon.titan-text-express-v1:0:8k")

It streams: memory holds one block of the file plus 12 bytes per record for the
duplicate and leakage fingerprints.
"""

from lambda_handlers.validation.engine import validate_dataset
from lambda_handlers.validation.findings import CODES, Severity
from lambda_handlers.validation.sources import ByteSource, open_source

__all__ = ["CODES", "ByteSource", "Severity", "open_source", "validate_dataset"]
