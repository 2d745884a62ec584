"""Completion by event: the wait for the job is a task token that Bedrock's event resumes.

    Submit -> Wait for job event (.waitForTaskToken; on its timeout: Safety poll, park again)
           -> Check job status -> Job completed? -> (no) Wait for job event ...

``WaitForJobEvent`` parks the execution's token (``lambda_handlers/job_events.py``);
``JobEventRelay`` is the target of an EventBridge rule on Bedrock's ``Model Customization
Job State Change`` events for jobs that run as this stack's service role, and resumes the
waiting execution on an end state. Delivery is best effort, so the wait times out after
``safety_poll`` and parks again, and each park reads the job and wakes the execution itself
if the job has ended; if parking fails past its retries, the execution falls back to the
poll loop's own wait and look. Either way ``Check job status`` (with the
same fault tolerance as the polling mode) is what decides, so a lost, repeated, stale or
out-of-order event changes only when the job is read, never what the execution does.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from constructs_lib.execution_encryption import grant_executions, state_machine_arn
from constructs_lib.service_role import BedrockServiceRole
from constructs_lib.steps.base import CallKind, LambdaStep, StepContext, bounded_name
from constructs_lib.steps.flow import Fragment, sequence
from constructs_lib.steps.history import PollSchedule
from constructs_lib.steps.permissions import acknowledge_run_time_ids
from constructs_lib.steps.training import (
    JOB_OUTCOMES,
    SINGLE_JOB,
    SWEEP_RUN,
    CheckJob,
    JobStates,
    SubmitJob,
)
from lambda_handlers.common.job_waits import END_STATUSES, EVENT_DETAIL_TYPE, EVENT_SOURCE


@dataclass(frozen=True)
class JobCompletion:
    """How the workflow learns that its job ended.

    ``events``: by Bedrock's job state change event, with a safety poll every
    ``safety_poll`` (default 30 minutes) in case the event is lost. Without it, by polling
    alone (``job_poll_interval`` ... ``job_poll_max_interval``).
    """

    events: bool = True
    safety_poll: Duration = Duration.minutes(30)

    def checked(self) -> JobCompletion:
        if self.safety_poll.is_unresolved():
            raise ValueError("job_completion.safety_poll must be a literal duration")
        seconds = self.safety_poll.to_seconds()
        if not 60 <= seconds <= 24 * 3600:
            raise ValueError(
                "job_completion.safety_poll must be between 1 minute and 24 hours, got "
                f"{self.safety_poll.to_human_string()}"
            )
        return self


EVENT_DRIVEN = JobCompletion()
POLLING = JobCompletion(events=False)


def _allow_resuming(step: LambdaStep) -> None:
    """SendTaskSuccess to this state machine's tasks; the task output is execution data,
    encrypted with the stack's key under this state machine's encryption context."""
    ctx = step.ctx
    step.allow(["states:SendTaskSuccess"], [state_machine_arn(ctx.stack, ctx.state_machine_name)])
    grant_executions(step.function, ctx.storage.key, ctx.stack, ctx.state_machine_name, start=True)


class WaitForJobEvent(LambdaStep):
    """Wait for job event: park the task token; wake at once if the job already ended."""

    kind = CallKind.WAITS
    key = "wait_for_job_event"
    function_id = "WaitForJobEvent"
    handler = "job_events.park_handler"
    description = "Parks the execution's task token until Bedrock's job event resumes it"

    def __init__(self, ctx: StepContext, completion: JobCompletion) -> None:
        super().__init__(ctx)
        self.completion = completion
        ctx.storage.grant_job_waits(self.function, write=True)
        self.allow(["bedrock:GetModelCustomizationJob"], ctx.arns.jobs)
        acknowledge_run_time_ids(self.role, ["model-customization-job"])
        _allow_resuming(self)

    def _wait(self, names: JobStates) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self.ctx.scope,
            names.wait_event,
            lambda_function=self.function,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object(
                {
                    "taskToken": sfn.JsonPath.task_token,
                    "jobArn": sfn.JsonPath.string_at("$.job.jobArn"),
                    "executionArn": sfn.JsonPath.execution_id,
                }
            ),
            result_path="$.jobEvent",
            retry_on_service_exceptions=False,
            comment="Parks the task token; Bedrock's job event (or the job already ended) resumes "
            "it, the timeout is the safety poll",
            task_timeout=sfn.Timeout.duration(self.completion.safety_poll),
        )
        # Not the timeout errors: here a timeout is the safety poll, not a failure.
        for rule in self.ctx.retries.for_kind(self.kind):
            rule.apply(task)
        self.has_states = True
        return task

    def loop(
        self,
        check: CheckJob,
        on_error: sfn.IChainable,
        *,
        left_running: sfn.IChainable,
        names: JobStates = SINGLE_JOB,
    ) -> Fragment:
        """Until the job completes: wait for its event, then read it (``check``)."""
        ctx = self.ctx
        wait = self._wait(names)
        looked = check.check_task(on_error, left_running=left_running, names=names)
        fallback = sfn.Wait(
            ctx.scope,
            names.wait,
            comment="Parking failed: poll instead this round",
            time=sfn.WaitTime.seconds_path("$.job.pollSeconds"),
        )
        fallback.next(looked)
        # The safety poll: park again. The park reads the job, and wakes the execution
        # itself if the job has ended: one invocation a round.
        safety_poll = sfn.Pass(
            ctx.scope,
            names.safety_poll,
            comment="No event within the safety poll: park again (the park reads the job)",
        )
        safety_poll.next(wait)
        wait.add_catch(safety_poll, errors=["States.Timeout"], result_path="$.jobEvent")
        wait.add_catch(fallback, errors=["States.ALL"], result_path="$.jobEvent")
        wait.next(looked)
        done = sfn.Choice(ctx.scope, names.done)
        looked.next(done)
        safety = PollSchedule(self.completion.safety_poll, self.completion.safety_poll)
        if names.in_map:
            # A run's fallback poll follows only a park that failed past its retries: its
            # rounds are the safety poll's, as the history budget counts them.
            ctx.run_loops[names.wait_event] = safety
        else:
            ctx.loops[names.wait_event] = safety
            ctx.loops[names.wait] = ctx.schedules.job

        def continue_with(after: sfn.IChainable) -> None:
            done.when(sfn.Condition.string_equals("$.job.status", "Completed"), after).otherwise(
                wait
            )

        return Fragment(wait, continue_with)


class JobEventRelay(LambdaStep):
    """Bedrock's job state change -> the waiting execution's token, resumed."""

    kind = CallKind.NOTIFIES
    key = "job_event_relay"
    function_id = "JobEventRelay"
    handler = "job_events.relay_handler"
    description = "Resumes the execution waiting for a customization job when the job ends"

    def __init__(self, ctx: StepContext, *, service_role: BedrockServiceRole) -> None:
        super().__init__(ctx)
        ctx.storage.grant_job_waits(self.function, write=False)
        _allow_resuming(self)
        self.rule = events.Rule(
            ctx.scope,
            "JobEventRule",
            rule_name=bounded_name(ctx.state_machine_name, "-job-events", 64),
            description="Wakes the customization execution waiting for a job that ended",
            event_pattern=events.EventPattern(
                source=[EVENT_SOURCE],
                detail_type=[EVENT_DETAIL_TYPE],
                detail={
                    "jobStatus": list(END_STATUSES),
                    # Jobs of this stack, and only those, run as its service role.
                    "roleArn": [service_role.role_arn],
                },
            ),
            targets=[
                # A lost event costs at most one safety poll's delay: no dead-letter queue.
                targets.LambdaFunction(
                    self.function, retry_attempts=4, max_event_age=Duration.hours(1)
                )
            ],
        )


class JobFollowing:
    """Submitting and following a job, as the workflow's one job or as a sweep's run: one
    set of functions (submit, check, park, relay), the states made as often as needed."""

    def __init__(
        self, ctx: StepContext, completion: JobCompletion, *, service_role: BedrockServiceRole
    ) -> None:
        self.submit = SubmitJob(ctx, service_role=service_role)
        self.check = CheckJob(ctx)
        self.park: WaitForJobEvent | None = None
        if completion.events:
            JobEventRelay(ctx, service_role=service_role)
            self.park = WaitForJobEvent(ctx, completion.checked())

    def chain(
        self,
        on_error: sfn.IChainable,
        *,
        left_running: sfn.IChainable,
        names: JobStates = SINGLE_JOB,
    ) -> Fragment:
        """Submit, then wait until the job completes: by event (with the safety poll), or the
        poll loop alone."""
        submit = self.submit.fragment(on_error, names)
        if self.park is None:
            wait = self.check.poll(on_error, left_running=left_running, names=names)
        else:
            wait = self.park.loop(self.check, on_error, left_running=left_running, names=names)
        return sequence(submit, wait)


__all__ = [
    "EVENT_DRIVEN",
    "JOB_OUTCOMES",
    "POLLING",
    "SWEEP_RUN",
    "JobCompletion",
    "JobFollowing",
]
