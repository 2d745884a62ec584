"""Building blocks of the chain: a fragment, a sequence, an optional part, a poll loop.

A ``Fragment`` is a piece of the state machine with one way in (``start``) and open ends
that ``continue_with`` joins to whatever comes next. The workflow writes its chain in
reading order with ``sequence``; every Choice renders as if written by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct


def _end(_: sfn.IChainable) -> None:
    raise ValueError("this fragment ends the execution: nothing can follow it")


@dataclass(frozen=True)
class Fragment:
    """A piece of the chain: where it starts, and how its open ends go on."""

    start: sfn.IChainable
    continue_with: Callable[[sfn.IChainable], object] = _end

    @classmethod
    def of(cls, state: sfn.TaskStateBase | sfn.Pass | sfn.Map) -> Fragment:
        """A single state that goes on to what follows it."""
        return cls(state, lambda after: state.next(after))


def sequence(*fragments: Fragment) -> Fragment:
    """The fragments one after the other."""
    for first, second in pairwise(fragments):
        first.continue_with(second.start)
    return Fragment(fragments[0].start, fragments[-1].continue_with)


def when(scope: Construct, name: str, condition: sfn.Condition, *parts: Fragment) -> Fragment:
    """A Choice named ``name``: the parts when ``condition`` holds, else straight on."""
    inner = sequence(*parts)
    choice = sfn.Choice(scope, name).when(condition, inner.start)

    def continue_with(after: sfn.IChainable) -> None:
        choice.otherwise(after)
        inner.continue_with(after)

    return Fragment(choice, continue_with)


def unless(scope: Construct, name: str, condition: sfn.Condition, *parts: Fragment) -> Fragment:
    """A Choice named ``name``: straight on when ``condition`` holds, else the parts."""
    inner = sequence(*parts)
    choice = sfn.Choice(scope, name).otherwise(inner.start)

    def continue_with(after: sfn.IChainable) -> None:
        choice.when(condition, after)
        inner.continue_with(after)

    return Fragment(choice, continue_with)


def poll(
    scope: Construct,
    *,
    wait: str,
    every: sfn.WaitTime,
    check: sfn.TaskStateBase,
    done: str,
    until: sfn.Condition,
) -> Fragment:
    """Wait, ``check``, and go on once ``until`` holds (a Choice named ``done``); else wait again."""
    wait_state = sfn.Wait(scope, wait, time=every)
    wait_state.next(check)
    choice = sfn.Choice(scope, done)
    check.next(choice)

    def continue_with(after: sfn.IChainable) -> None:
        choice.when(until, after).otherwise(wait_state)

    return Fragment(wait_state, continue_with)
