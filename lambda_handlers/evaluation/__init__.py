"""Evaluate a custom model against its base model on a held-out test set.

Pure pieces, testable without AWS: reading the test set (``testset``), writing and reading
Bedrock batch inference records (``batch``), scoring answers (``metrics``) and writing the
comparison (``report``).
"""
