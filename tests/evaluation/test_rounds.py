"""Bounded evaluation: rounds that stop with the invocation's clock, answers saved per round,
and the choice between batch inference and Converse."""

from __future__ import annotations

import threading
import time

import boto3
import pytest
from moto import mock_aws

from lambda_handlers.evaluation.batch import BatchResult, evaluation_mode
from lambda_handlers.evaluation.rounds import (
    ABANDON_MS,
    STOP_STARTING_MS,
    AnswerStore,
    Unit,
    margins,
    run_round,
)

UNITS: list[Unit] = [(role, f"L{i:010d}") for i in range(1, 21) for role in ("custom", "base")]


class Clock:
    """An invocation's remaining time, on a fake clock each answer advances."""

    def __init__(self, start_ms: int, per_answer_ms: int) -> None:
        self.left, self.per_answer = start_ms, per_answer_ms
        self._lock = threading.Lock()

    def remaining(self) -> int:
        return self.left

    def answer(self, unit: Unit) -> BatchResult:
        with self._lock:
            self.left -= self.per_answer
        return BatchResult(unit[1], f"answer of {unit[0]}", None)


def test_margins_are_fixed_and_scaled_down_for_short_functions() -> None:
    assert margins(900_000) == (STOP_STARTING_MS, ABANDON_MS)
    assert margins(30_000) == (6_000, 1_500)


def test_a_round_stops_starting_calls_when_its_time_runs_short() -> None:
    clock = Clock(start_ms=900_000, per_answer_ms=60_000)
    got = run_round(UNITS, clock.answer, concurrency=1, remaining_ms=clock.remaining)
    # 900 s, a minute per answer, no new call under 120 s left: 13 calls.
    assert len(got.answers) == 13 and got.error is None and got.abandoned == 0
    assert list(got.answers) == UNITS[:13], "in order"


def test_a_round_with_time_enough_answers_everything_once() -> None:
    clock = Clock(start_ms=900_000, per_answer_ms=1)
    calls: list[Unit] = []

    def ask(unit: Unit) -> BatchResult:
        calls.append(unit)
        return clock.answer(unit)

    got = run_round(UNITS, ask, concurrency=4, remaining_ms=clock.remaining)
    assert set(got.answers) == set(UNITS) and sorted(calls) == sorted(UNITS)


def test_calls_still_running_when_time_is_up_are_abandoned() -> None:
    release = threading.Event()
    start = time.monotonic()

    def remaining() -> int:  # a 2-second invocation, in real time
        return int((2.0 - (time.monotonic() - start)) * 1000)

    def ask(unit: Unit) -> BatchResult:
        if unit == UNITS[1]:
            release.wait(10)  # hangs past the invocation's end
        return BatchResult(unit[1], "ok", None)

    try:
        got = run_round(UNITS[:2], ask, concurrency=2, remaining_ms=remaining)
    finally:
        release.set()
    assert list(got.answers) == [UNITS[0]] and got.abandoned == 1
    assert time.monotonic() - start < 2.0, "returned before the invocation's end"


def test_an_exception_stops_the_round_and_keeps_what_was_answered() -> None:
    def ask(unit: Unit) -> BatchResult:
        if unit == UNITS[3]:
            raise ConnectionError("network down")
        return BatchResult(unit[1], "ok", None)

    got = run_round(UNITS, ask, concurrency=1, remaining_ms=lambda: 900_000)
    assert list(got.answers) == UNITS[:3] and isinstance(got.error, ConnectionError)


def test_a_round_gives_up_starting_calls_when_told() -> None:
    got = run_round(
        UNITS,
        lambda unit: BatchResult(unit[1], None, "AccessDeniedException"),
        concurrency=1,
        remaining_ms=lambda: 900_000,
        give_up=lambda answers: len(answers) >= 5,
    )
    assert len(got.answers) == 5


@mock_aws
def test_answers_are_saved_per_round_and_loaded_back() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="artifacts")
    store = AnswerStore(s3, "artifacts", "reports/job/evaluation-answers/")
    store.save(0, {UNITS[0]: BatchResult(UNITS[0][1], "yes", None)})
    store.save(1, {UNITS[1]: BatchResult(UNITS[1][1], None, "refused")})
    store.save(1, {UNITS[1]: BatchResult(UNITS[1][1], "again", None)})  # a repeated round
    assert store.load(2) == {
        UNITS[0]: BatchResult(UNITS[0][1], "yes", None),
        UNITS[1]: BatchResult(UNITS[1][1], "again", None),
    }
    assert store.load(1) == {UNITS[0]: BatchResult(UNITS[0][1], "yes", None)}
    with pytest.raises(Exception, match="the answers of round 2"):
        store.load(3)


@pytest.mark.parametrize(
    ("records", "model", "requested", "mode"),
    [
        (100, "amazon.nova-lite-v1:0", False, "batch"),
        (99, "amazon.nova-lite-v1:0", False, "converse"),
        (99, "amazon.nova-lite-v1:0", True, "converse"),  # below the model's own minimum
        (2000, "amazon.nova-2-lite-v1:0", True, "converse"),  # no source says it takes batch
        (150, "meta.llama3-2-1b-instruct-v1:0", False, "batch"),
    ],
)
def test_batch_inference_only_from_the_models_minimum(
    records: int, model: str, requested: bool, mode: str
) -> None:
    chosen = evaluation_mode(records, model, requested=requested)
    assert chosen.mode == mode, chosen.reason
