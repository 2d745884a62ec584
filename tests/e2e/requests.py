"""The request most offline executions start from, and how a failed one reads."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.harness import Execution, OfflineWorkflow
from tests.factories import conversation_records, fine_tuning_request, jsonl


def request_for(workflow: OfflineWorkflow, **overrides: Any) -> dict[str, Any]:
    """A fine-tuning request on 12 training and 3 validation records put in the data bucket."""
    train = workflow.put_data("training/train.jsonl", jsonl(conversation_records(12)))
    validation = workflow.put_data(
        "validation/val.jsonl", jsonl(conversation_records(3, offset=100))
    )
    base = fine_tuning_request(
        trainingDataConfig={"s3Uri": train},
        validationDataConfig={"validators": [{"s3Uri": validation}]},
    )
    base.update(overrides)
    return base


def error_message(execution: Execution) -> str:
    """The ``errorMessage`` of the Lambda error a failed execution ended with."""
    return str(json.loads(execution.cause or "{}")["errorMessage"])
