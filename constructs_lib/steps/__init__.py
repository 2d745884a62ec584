"""The workflow's steps, grouped by phase.

- ``request``: Validate request (the request and its training data).
- ``training``: Submit customization job, Check job status.
- ``serving``: Start serving, Check serving status.
- ``evaluation``: Prepare evaluation, Check batch evaluation, Evaluate the model.
- ``promotion``: Promote onto the endpoint, Check promotion, Schedule serving expiry.
- ``cleanup``: Clean up, and the abort cleanup of stopped or timed-out executions.
- ``notification``: Notify success, Notify failure.

``base`` has what a step is made of (``LambdaStep``, ``CallKind`` and the retry table),
``flow`` the pieces of the chain, ``permissions`` the ARNs and statements steps share.
"""
