"""Bounded evaluation: the Converse calls of one evaluation, split across invocations.

An evaluation of the largest allowed size (``evaluation.maxRecords`` 2,000 test records,
two models: 4,000 calls) at ``concurrency`` 1 and a slow model cannot finish inside one
Lambda invocation (15 minutes at most: Lambda's quotas page, "Function timeout"). So the
work is done in rounds: each invocation of "Evaluate the model" asks what is still
unanswered, for as long as its own time allows, writes the answers it got under the reports
prefix (one slice per round), and returns a cursor; the state machine runs the task again
until the cursor says done. Every call is asked until it is answered once, and each answer
is scored once, at the end, from all slices: the result is the one a single invocation
would give.

How long a round runs is set by the invocation's own clock
(``context.get_remaining_time_in_millis()``): no new call is started when less than
``STOP_STARTING_MS`` is left, and calls still running when ``ABANDON_MS`` is left are
abandoned (their answers dropped, the calls asked again next round) so that the round's
slice is written before Lambda stops the function. A function with a shorter timeout
scales both margins down (a fifth and a twentieth of its time).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common.errors import translate_client_error
from lambda_handlers.evaluation.batch import BatchResult

STOP_STARTING_MS = 120_000
"""Start no new call with less than this left: a Converse call's read timeout is 60 s."""
ABANDON_MS = 45_000
"""Abandon calls still running with this left: time to write the round's slice and return."""
POLL_SECONDS = 1.0
"""How often a waiting round looks at the clock."""

Unit = tuple[str, str]
"""One call: the model's role (``custom`` or ``base``) and the test case's id."""


def margins(start_ms: int) -> tuple[int, int]:
    """``(stop starting, abandon)`` for an invocation that started with ``start_ms`` left."""
    return min(STOP_STARTING_MS, start_ms // 5), min(ABANDON_MS, start_ms // 20)


@dataclass
class Round:
    """What one round got: answers by unit, and the error that cut it short, if any."""

    answers: dict[Unit, BatchResult] = field(default_factory=dict)
    error: BaseException | None = None
    abandoned: int = 0


def run_round(
    units: Iterable[Unit],
    ask: Callable[[Unit], BatchResult],
    *,
    concurrency: int,
    remaining_ms: Callable[[], int],
    give_up: Callable[[Mapping[Unit, BatchResult]], bool] = lambda answers: False,
) -> Round:
    """Ask ``units`` in order, ``concurrency`` at a time, while the invocation's time allows.

    ``ask`` returns each call's answer (a call that fails for the model's reasons is an
    answer with an error); an exception from it (the network down) stops the round: what
    was answered is kept and the exception returned, for the caller to raise once the
    answers are saved. ``give_up`` is asked after each answer whether starting more calls
    is pointless (a model that answers nothing); the calls running are still awaited.
    """
    stop_starting, abandon = margins(remaining_ms())
    result = Round()
    pending: dict[Future[BatchResult], Unit] = {}
    queue = iter(units)
    pool = ThreadPoolExecutor(max_workers=concurrency)
    try:
        while True:
            while result.error is None and len(pending) < concurrency:
                if remaining_ms() <= stop_starting or give_up(result.answers):
                    break
                unit = next(queue, None)
                if unit is None:
                    break
                pending[pool.submit(ask, unit)] = unit
            if not pending:
                return result
            left = (remaining_ms() - abandon) / 1000
            if left <= 0:
                result.abandoned = len(pending)
                return result
            finished, _ = wait(
                pending, timeout=min(left, POLL_SECONDS), return_when=FIRST_COMPLETED
            )
            for future in finished:
                unit = pending.pop(future)
                try:
                    result.answers[unit] = future.result()
                except Exception as error:  # handed to the caller once the answers are saved
                    result.error = result.error or error
    finally:
        # Abandoned calls finish in the background; their answers are not kept.
        pool.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class AnswerStore:
    """The rounds' answers under ``s3://<bucket>/<prefix>``: one JSON slice per round."""

    s3: Any
    bucket: str
    prefix: str

    def key(self, number: int) -> str:
        return f"{self.prefix}slice-{number:04d}.json"

    def save(self, number: int, answers: Mapping[Unit, BatchResult]) -> None:
        """Write round ``number``'s answers (a repeat of the round overwrites its own slice)."""
        body = {
            "answers": [
                {"model": model, "id": case_id, "text": answer.text, "error": answer.error}
                for (model, case_id), answer in answers.items()
            ]
        }
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=self.key(number),
                Body=json.dumps(body).encode(),
                ContentType="application/json",
            )
        except ClientError as error:
            raise translate_client_error(error, f"PutObject {self.key(number)}") from error

    def load(self, rounds: int) -> dict[Unit, BatchResult]:
        """The answers of rounds ``0 .. rounds - 1``."""
        found: dict[Unit, BatchResult] = {}
        for number in range(rounds):
            try:
                body = self.s3.get_object(Bucket=self.bucket, Key=self.key(number))["Body"].read()
            except ClientError as error:
                raise translate_client_error(
                    error, f"GetObject {self.key(number)} (the answers of round {number})"
                ) from error
            for item in json.loads(body)["answers"]:
                found[(item["model"], item["id"])] = BatchResult(
                    item["id"], item["text"], item["error"]
                )
        return found
