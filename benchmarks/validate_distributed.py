#!/usr/bin/env python3
"""A large object through the synthesized state machine's Distributed Map path, offline.

    python3 benchmarks/validate_distributed.py [--size-mb 2048]

Synthesizes the test suite's full stack (``tests/conftest.py``: data of 4 MiB or more is
validated in shards; at most 400 of them, so 2 GB makes shards of about 5 MB), puts a generated
continued pre-training file for Titan Text (``{"input"}`` records, valid but for its last line,
which is not JSON) into moto's S3, and runs one execution through moto's Step Functions
interpreter, its Lambda tasks running the real handlers in this process
(``tests/e2e/harness.py``). It checks that the execution took the map path and stopped before
submit naming the last line, and that the report it wrote equals the engine's single pass over
the same bytes; it prints the shards, the times and the peak RSS. Not a test: it needs a few GB
of memory (moto keeps objects in memory) and minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")

from moto import mock_aws  # noqa: E402

from lambda_handlers.validation import validate_dataset  # noqa: E402
from lambda_handlers.validation.engine import summary  # noqa: E402
from lambda_handlers.validation.sources import bytes_source  # noqa: E402
from tests.conftest import FULL_CONTEXT, synthesize  # noqa: E402
from tests.e2e.fake_bedrock import REGION, FakeBedrock  # noqa: E402
from tests.e2e.harness import OfflineWorkflow, patch_interpreter  # noqa: E402
from tests.factories import fine_tuning_request  # noqa: E402

TITAN = "amazon.titan-text-express-v1:0:8k"
CPT = "CONTINUED_PRE_TRAINING"
TEXT = (
    "The patient presents with fever, cough and fatigue; the order was delayed and the "
    "refund is pending. Le colis est arrivé en retard. 荷物が遅れて届いた。"
) * 6


def generate(size_bytes: int) -> tuple[bytes, int]:
    """Records of about 1.2 KB up to ``size_bytes``, a few repeated; the last line broken."""
    lines = []
    total = i = 0
    while total < size_bytes:
        line = json.dumps({"input": f"{TEXT} {i % 900_000}"}, ensure_ascii=False).encode()
        lines.append(line)
        total += len(line) + 1
        i += 1
    lines.append(b'{"input": "cut off')
    return b"\n".join(lines) + b"\n", len(lines)


def read_objects_once() -> None:
    """moto reads a whole object from its spooled buffer for every GET, a range included
    (1-2 s for 2 GB, three GETs a shard); keep each object's bytes after the first read, as
    S3 serves a range without reading the rest. Objects are written once here."""
    from moto.s3.models import FakeKey

    read = FakeKey.value.fget
    kept: dict[int, bytes] = {}

    def value(key: FakeKey) -> bytes:
        if id(key) not in kept:
            kept[id(key)] = read(key)
        return kept[id(key)]

    FakeKey.value = property(value, FakeKey.value.fset)  # type: ignore[method-assign]


def put_whole(bucket: str, key: str, data: bytes) -> str:
    """Upload ``data`` in one request. botocore's default flexible checksum sends a body this
    large as aws-chunked, which moto re-reads chunk by chunk: a 1 GB upload alone ran for
    minutes. Checksums only when required, as S3 allows, go straight through."""
    import boto3
    from botocore.config import Config

    s3 = boto3.client(
        "s3", region_name=REGION, config=Config(request_checksum_calculation="when_required")
    )
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    return f"s3://{bucket}/{key}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=2048, help="object size (default 2048)")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        synthesized = synthesize(Path(tmp), FULL_CONTEXT)
    assert synthesized.error is None, synthesized.error
    data, lines = generate(args.size_mb * 1024 * 1024)
    print(
        f"object: {len(data) / 1e6:,.0f} MB, {lines:,} lines (synthesis and data in "
        f"{time.perf_counter() - started:.0f} s)"
    )
    bedrock = FakeBedrock()
    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    read_objects_once()
    with mock_aws(config=config):
        workflow = OfflineWorkflow(synthesized.template, bedrock)
        patched = patch_interpreter(workflow)
        next(patched)
        workflow.start()
        uri = put_whole(workflow.data_bucket, "training/large.jsonl", data)
        request = fine_tuning_request(
            customizationType=CPT,
            baseModelIdentifier=TITAN,
            trainingDataConfig={"s3Uri": uri},
            hyperParameters={"epochCount": 1, "batchSize": 16},
            serving={"mode": "none"},
        )
        del request["validationDataConfig"]
        started = time.perf_counter()
        execution = workflow.run(request, timeout=3600)
        offline_seconds = time.perf_counter() - started
        message = json.loads(execution.cause or "{}").get("errorMessage", "")
        report = workflow.read_artifact(message.rsplit("Full report: ", 1)[1])
    shards = [event for _, event in workflow.invocations if "shard" in event]
    started = time.perf_counter()
    one_pass = validate_dataset(bytes_source(uri, data), customization_type=CPT, base_model=TITAN)
    one_pass["summary"] = summary(one_pass)
    single_seconds = time.perf_counter() - started
    print(f"states: {' -> '.join(execution.entered_states())}")
    print(
        f"execution: {execution.status} {execution.error}, {len(shards)} shards, "
        f"{offline_seconds:.0f} s offline; single pass in-process {single_seconds:.0f} s"
    )
    print(f"error names the last line: {f'not-json at training line {lines}' in message}")
    print(f"nothing submitted: {bedrock.calls == []}")
    print(f"report identical to the single pass: {report == one_pass}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
