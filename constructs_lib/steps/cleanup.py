"""Cleanup: what a failed, stopped or timed-out execution leaves behind is stopped or deleted.

``Clean up`` is the first state of every failure. A stopped or timed-out execution runs no
more states, and a ``States.Runtime`` error or the 25,000-event history limit fails an
execution without running any Catch, so ``AbortCleanup`` runs the same (idempotent) cleanup
from the execution's status event: ABORTED, TIMED_OUT and FAILED.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn

from constructs_lib.execution_encryption import grant_executions
from constructs_lib.nag import account_arn, acknowledge, attr_ref
from constructs_lib.steps import dead_letters
from constructs_lib.steps.base import CallKind, LambdaStep, StepContext, bounded_name
from constructs_lib.steps.notification import Notify, allow_publishing
from constructs_lib.steps.permissions import acknowledge_run_time_ids, owned_by_this_stack


def allow_cleaning_up(step: LambdaStep) -> None:
    """Stop the job and a batch evaluation job, delete serving: what both cleanups do.

    Reads (Get, List, ListTagsForResource) are unconditioned: cleanup reads a resource to learn
    whether it is this execution's. Every Stop and Delete carries ``owned_by_this_stack``: the
    resource must be tagged with this stack and one of its state machine's executions. Which
    execution is the handler's check alone (IAM cannot compare a tag with the calling
    execution): the job's token, the other resources' execution tag (lambda_handlers/cleanup.py).
    """
    arns, owned = step.ctx.arns, owned_by_this_stack(step.ctx)
    acknowledge_run_time_ids(
        step.role, ["model-customization-job", "provisioned-model", "custom-model-deployment"]
    )
    step.allow(["bedrock:GetModelCustomizationJob"], arns.jobs)
    step.allow(["bedrock:StopModelCustomizationJob"], arns.jobs, owned)
    step.allow(
        [
            "bedrock:GetProvisionedModelThroughput",
            "bedrock:GetCustomModelDeployment",
            "bedrock:ListTagsForResource",
        ],
        arns.serving,
    )
    step.allow(
        ["bedrock:DeleteProvisionedModelThroughput", "bedrock:DeleteCustomModelDeployment"],
        arns.serving,
        owned,
    )
    # A batch job's tags, and its status when they cannot be read (it ended meanwhile).
    step.allow(["bedrock:GetModelInvocationJob", "bedrock:ListTagsForResource"], arns.batch_jobs)
    step.allow(["bedrock:StopModelInvocationJob"], arns.batch_jobs, owned)
    # ListModelInvocationJobs is a list action: it takes no resource ARN.
    step.allow(["bedrock:ListModelInvocationJobs"], ["*"])
    acknowledge(
        step.role,
        "IAM5",
        "bedrock:ListModelInvocationJobs supports no resource-level permission (Resource '*' is "
        "required); cleanup lists by the name derived from the execution and stops only the job "
        "tagged with this stack and execution.",
        findings=["Resource::*"],
    )
    acknowledge_run_time_ids(step.role, ["model-invocation-job"])


class Cleanup(LambdaStep):
    """Clean up: stop the job, delete serving this execution created, and a gated-out model."""

    kind = CallKind.DELETES
    key = "cleanup"
    function_id = "Cleanup"
    handler = "cleanup.handler"
    description = "Stops the job and deletes serving resources of a failed execution"
    timeout = Duration.minutes(2)

    def __init__(self, ctx: StepContext) -> None:
        super().__init__(ctx)
        allow_cleaning_up(self)
        # A model that fails the quality gate is deleted (it costs storage every month), if
        # it is tagged with this stack and one of its executions; its tags are read first.
        self.allow(["bedrock:ListTagsForResource"], ctx.arns.custom_models)
        self.allow(["bedrock:DeleteCustomModel"], ctx.arns.custom_models, owned_by_this_stack(ctx))
        acknowledge_run_time_ids(self.role, ["custom-model"])

    def then_notify(self, notify: Notify) -> sfn.IChainable:
        """Clean up -> Notify failure: where every task after validation fails into."""
        task = self.task(
            "Clean up",
            result_path="$.cleanup",
            comment="Stops the job and deletes serving this execution created",
        )
        task.add_catch(notify.failure, errors=["States.ALL"], result_path="$.cleanupError")
        task.next(notify.failure)
        return task


class AbortCleanup(LambdaStep):
    """The same cleanup for an execution that was stopped or timed out, run by EventBridge."""

    kind = CallKind.DELETES
    key = "abort_cleanup"
    function_id = "AbortCleanup"
    handler = "cleanup.abort_handler"
    description = "Cleans up after an execution was stopped, timed out or failed outside its Catch"
    timeout = Duration.minutes(3)  # two passes, with the straggler wait between

    def __init__(self, ctx: StepContext, *, topic: sns.ITopic) -> None:
        super().__init__(ctx)
        allow_cleaning_up(self)
        allow_publishing(self, topic, ctx.storage.key)
        self.topic = topic

    def watch(self, state_machine: sfn.StateMachine, *, stragglers: Duration) -> None:
        """Clean up after ``state_machine``'s stopped and timed-out executions.

        ``stragglers``: how long a task still running at the stop may go on creating
        something billable; the second pass comes after it.
        """
        scope, key, name = self.ctx.scope, self.ctx.storage.key, self.ctx.state_machine_name
        self.dead_letter_queue = dead_letters.dead_letter_queue(scope, key)
        self.function.add_environment(
            "STRAGGLER_WAIT_SECONDS", str(int(stragglers.to_seconds()) + 5)
        )
        dead_letters.send_failures_to(self.function, self.dead_letter_queue, key)
        self.function.add_environment("STATE_MACHINE_ARN", state_machine.state_machine_arn)
        self._allow_describing(state_machine)
        # Named, so that the key policy can name the rule's ARN without a dependency cycle.
        rule_name = bounded_name(name, "-abort-cleanup", 64)
        self.rule = events.Rule(
            scope,
            "AbortCleanupRule",
            rule_name=rule_name,
            description="Clean up after customization executions that were stopped, timed out or failed",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    # FAILED too: a States.Runtime error or the history limit skips every Catch.
                    "status": ["ABORTED", "TIMED_OUT", "FAILED"],
                    "stateMachineArn": [state_machine.state_machine_arn],
                },
            ),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=8,
                    max_event_age=Duration.hours(2),
                )
            ],
        )
        dead_letters.allow_rule_to_dead_letter(
            key,
            self.ctx.stack.format_arn(service="events", resource="rule", resource_name=rule_name),
        )
        self.failure_alarm = dead_letters.alarm_on_dead_letters(
            scope,
            self.dead_letter_queue,
            self.topic,
            key,
            bounded_name(name, "-abort-cleanup-failed", 255),
        )

    def _allow_describing(self, state_machine: sfn.StateMachine) -> None:
        executions = self.ctx.stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{state_machine.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        # The history tells whether the workflow's own failure path ran (and notified).
        self.allow(["states:DescribeExecution", "states:GetExecutionHistory"], [executions])
        # Execution data is encrypted with the stack's key: reading it decrypts.
        grant_executions(
            self.function, self.ctx.storage.key, self.ctx.stack, self.ctx.state_machine_name
        )
        acknowledge(
            self.role,
            "IAM5",
            "DescribeExecution and GetExecutionHistory on the executions of this state machine only; "
            "execution names are chosen when an execution starts.",
            findings=[
                f"Resource::{account_arn(state_machine, 'states', 'execution:' + attr_ref(state_machine, 'Name') + ':*')}"
            ],
        )
