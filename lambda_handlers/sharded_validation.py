"""Large datasets validated in shards by the workflow's Distributed Map.

When the stack sets a threshold (``SHARDED_VALIDATION_MIN_BYTES``) and a request's data files
reach it together, Validate does not read them: it plans byte ranges of every file
(``VALIDATION_SHARD_BYTES`` each, cut anywhere: ``lambda_handlers/validation/shards.py``
moves each cut to a line end). The Distributed Map runs one invocation per shard, which
validates its lines and writes its ``ShardReport`` under ``reports/<job>/shards/``; the merge
reads them back and gives the report one pass over the files gives, written and judged as
Validate judges it. Every invocation runs the same function with one ``PYTHONHASHSEED``
(the stack sets it), so the shards' record digests compare.
"""

from __future__ import annotations

import math
import os
from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common.errors import RequestInvalid, translate_client_error
from lambda_handlers.common.plan import job_folder
from lambda_handlers.common.request import CustomizationRequest
from lambda_handlers.common.settings import Settings
from lambda_handlers.validation.engine import summary
from lambda_handlers.validation.rules import DatasetRules, rules_for
from lambda_handlers.validation.shards import (
    Shard,
    ShardReport,
    cut,
    merge,
    s3_blob,
    validate_shard,
)

DEFAULT_SHARD_BYTES = 256 * 1024 * 1024
MAX_SHARDS = 400
"""The most shards of one request: the ranges and their results travel in the execution's
state (about 400 bytes a shard, of 256 KB); more data makes each shard larger instead."""


def _rules(base_model: str, customization_type: str) -> DatasetRules:
    try:
        return rules_for(base_model, customization_type)
    except ValueError as error:
        raise RequestInvalid([f"baseModelIdentifier: {str(error).splitlines()[0]}"]) from error


def _files(request: CustomizationRequest) -> list[tuple[str, str]]:
    """``(s3 URI, role)`` of the training file and each validation file, as the report names them."""
    assert request.trainingDataConfig.s3Uri is not None
    validators = request.validationDataConfig.validators if request.validationDataConfig else []
    roles = ["validation"] if len(validators) == 1 else [f"validation[{i}]" for i in range(10)]
    return [(request.trainingDataConfig.s3Uri, "training")] + [
        (v.s3Uri, roles[i]) for i, v in enumerate(validators)
    ]


def shard_plan(
    request: CustomizationRequest, job_name: str, s3: Any
) -> list[dict[str, Any]] | None:
    """The shards to validate the request's files in, or ``None`` when they are to be read
    by Validate itself: no threshold set, data from invocation logs, or smaller files."""
    threshold = os.environ.get("SHARDED_VALIDATION_MIN_BYTES", "")
    if not threshold or request.trainingDataConfig.s3Uri is None:
        return None
    _rules(request.baseModelIdentifier, request.customizationType)
    shard_bytes = int(os.environ.get("VALIDATION_SHARD_BYTES") or DEFAULT_SHARD_BYTES)
    sizes = [(uri, role, s3_blob(uri, s3).size) for uri, role in _files(request)]
    total = sum(size for _, _, size in sizes)
    if total < int(threshold):
        return None
    shard_bytes = max(shard_bytes, math.ceil(total / (MAX_SHARDS - len(sizes))))
    common = {
        "baseModel": request.baseModelIdentifier,
        "customizationType": request.customizationType,
        "jobName": job_name,
    }
    return [
        {"uri": uri, "role": role, "start": shard.start, "end": shard.end, **common}
        for uri, role, size in sizes
        for shard in cut(size, max(1, math.ceil(size / shard_bytes)))
    ]


def validate_one_shard(item: dict[str, Any], settings: Settings, s3: Any) -> dict[str, Any]:
    """Validate one shard (an item of ``shard_plan``); its report goes to
    ``reports/<job>/shards/``; where it went."""
    rules = _rules(item["baseModel"], item["customizationType"])
    report = validate_shard(
        s3_blob(item["uri"], s3),
        Shard(int(item["start"]), int(item["end"])),
        role=item["role"],
        rules=rules,
    )
    key = (
        f"{settings.reports_prefix}{job_folder(item['jobName'])}/shards/"
        f"{item['role']}-{int(item['start']):015d}.npz"
    )
    uri = f"s3://{settings.artifacts_bucket}/{key}"
    try:
        s3.put_object(Bucket=settings.artifacts_bucket, Key=key, Body=report.to_bytes())
    except ClientError as error:
        raise translate_client_error(error, f"PutObject {uri}") from error
    return {"role": item["role"], "key": key}


def _read(s3: Any, settings: Settings, key: str) -> ShardReport:
    uri = f"s3://{settings.artifacts_bucket}/{key}"
    try:
        body = s3.get_object(Bucket=settings.artifacts_bucket, Key=key)["Body"].read()
    except ClientError as error:
        raise translate_client_error(error, f"GetObject {uri}") from error
    return ShardReport.from_bytes(body)


def merged_report(
    request: CustomizationRequest, results: list[dict[str, Any]], s3: Any
) -> dict[str, Any]:
    """The data report of one pass over the files, from the reports of their shards."""
    settings = Settings.from_env()
    by_role: dict[str, list[ShardReport]] = {role: [] for _, role in _files(request)}
    for result in results:
        by_role[result["role"]].append(_read(s3, settings, result["key"]))
    roles = list(by_role)
    report = merge(
        by_role[roles[0]],
        [by_role[role] for role in roles[1:]],
        customization_type=request.customizationType,
        base_model=request.baseModelIdentifier,
        rules=_rules(request.baseModelIdentifier, request.customizationType),
    )
    report["summary"] = summary(report)
    return report
