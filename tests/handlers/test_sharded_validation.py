"""Which data Validate leaves to the Distributed Map, and in how many shards."""

from __future__ import annotations

import pytest

from lambda_handlers import sharded_validation
from lambda_handlers.common.request_checks import check_request
from lambda_handlers.validation.shards import bytes_blob
from tests.factories import CONTEXT, fine_tuning_request

GB = 1024**3


@pytest.fixture
def sizes(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """The sizes of the request's objects, as S3's HeadObject would give them."""
    sizes: dict[str, int] = {}

    def blob(uri: str, _s3: object) -> object:
        blob = bytes_blob(uri, b"")
        blob.size = sizes[uri]
        return blob

    monkeypatch.setattr(sharded_validation, "s3_blob", blob)
    return sizes


def plan_of(sizes: dict[str, int], train: int, validation: int) -> list[dict] | None:
    request = check_request(fine_tuning_request(), CONTEXT)
    assert request.trainingDataConfig.s3Uri and request.validationDataConfig
    sizes[request.trainingDataConfig.s3Uri] = train
    sizes[request.validationDataConfig.validators[0].s3Uri] = validation
    return sharded_validation.shard_plan(request, "job-1", None)


def test_without_a_threshold_validate_reads_the_data(
    sizes: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHARDED_VALIDATION_MIN_BYTES", raising=False)
    assert plan_of(sizes, 50 * GB, 0) is None


def test_files_that_reach_the_threshold_together_are_cut_into_shards(
    sizes: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHARDED_VALIDATION_MIN_BYTES", str(2 * GB))
    monkeypatch.setenv("VALIDATION_SHARD_BYTES", str(GB // 4))
    assert plan_of(sizes, 2 * GB - 10, 9) is None
    shards = plan_of(sizes, 2 * GB - 10, 10)
    assert shards is not None
    assert [(s["role"], s["end"] - s["start"]) for s in shards][-2:] == [
        ("training", (2 * GB - 10) - 7 * (2 * GB - 10) // 8),
        ("validation", 10),
    ]
    assert len(shards) == 9
    assert {s["jobName"] for s in shards} == {"job-1"}


def test_past_four_hundred_shards_the_shards_grow(
    sizes: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ranges and results travel in the execution's state, which holds 256 KB."""
    monkeypatch.setenv("SHARDED_VALIDATION_MIN_BYTES", str(GB))
    monkeypatch.setenv("VALIDATION_SHARD_BYTES", str(GB // 4))
    shards = plan_of(sizes, 1000 * GB, 3 * GB)
    assert shards is not None
    assert len(shards) <= sharded_validation.MAX_SHARDS
    assert sum(s["end"] - s["start"] for s in shards) == 1003 * GB
