"""The customization workflow: its steps composed into one Standard state machine.

Validate request -> Submit customization job -> (Wait for job event, Check job status)* ->
Serve the model? -> (Start serving, (Wait, Check serving status)*, Evaluate?) ->
Promote? -> Time-to-live? -> Notify success.

Each step (``constructs_lib/steps/``) owns its function, its permissions, its states and
their retries; this module only puts them in order. Every task after validation catches
every error into the failure branch: Clean up -> Notify failure -> Customization failed.
An execution that is stopped or times out runs no more states, so an EventBridge rule
sends it to the same cleanup.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from constructs_lib import execution_encryption
from constructs_lib.functions import WorkflowFunctions
from constructs_lib.grader import GraderSpec, RftGrader
from constructs_lib.nag import acknowledge, attr_ref
from constructs_lib.service_role import BedrockServiceRole
from constructs_lib.steps import evaluation, promotion, serving
from constructs_lib.steps.base import CallKind, StepContext
from constructs_lib.steps.cleanup import AbortCleanup, Cleanup
from constructs_lib.steps.evaluation import (
    CheckEvaluationBatch,
    EvaluateModel,
    PrepareEvaluation,
    batch_inference_role,
)
from constructs_lib.steps.flow import sequence
from constructs_lib.steps.job_events import EVENT_DRIVEN, JobCompletion, JobFollowing
from constructs_lib.steps.notification import Notify
from constructs_lib.steps.permissions import BedrockArns
from constructs_lib.steps.promotion import (
    NO_PROMOTION,
    CheckPromotion,
    Promote,
    PromotionTargets,
    ScheduleExpiry,
)
from constructs_lib.steps.request import (
    DEFAULT_LIMITS,
    RequestOptions,
    SpendingLimits,
    ValidateRequest,
)
from constructs_lib.steps.retries import RetryPolicy
from constructs_lib.steps.serving import CheckServing, StartServing
from constructs_lib.steps.sharded_validation import ShardedValidation, acknowledge_map_policy
from constructs_lib.steps.sweep import ChooseWinner
from constructs_lib.steps.sweep_runs import training
from constructs_lib.storage import CustomizationStorage
from constructs_lib.workflow_props import (
    SUPPORTED_TYPES,
    check_history,
    check_logs,
    derive_state_machine_name,
    enabled_types,
    literal,
    poll_schedules,
    workflow_environment,
)


class CustomizationWorkflow(Construct):
    """Lambda handlers and the Standard state machine that runs a customization request.

    Attributes: ``state_machine``, ``functions`` (by name), ``steps`` (by name),
    ``graders``, ``abort_cleanup_rule``, ``dead_letter_queue`` (where the abort cleanup's
    failures go), ``abort_cleanup_alarm`` (on that queue), ``log_group``.

    :param storage: buckets and key.
    :param service_role: the role Bedrock assumes; the submit function may pass it.
    :param topic: where outcomes are published.
    :param extra_data_buckets: other buckets requests may name for data. Default: none.
    :param enabled_customization_types: the approaches requests may use. Default:
        fine-tuning and continued pre-training.
    :param job_poll_interval: first wait before looking at the job (and the evaluation's
        batch job); later waits double up to ``job_poll_max_interval``. Default: 5 minutes;
        jobs run for hours and each look costs transitions and history events.
    :param job_poll_max_interval: the longest wait between looks at the job. Default: 15
        minutes: a finished job is noticed within 15 minutes.
    :param serving_poll_interval: first wait before looking at serving (and a promotion);
        later waits double up to ``serving_poll_max_interval``. Default: 1 minute.
    :param serving_poll_max_interval: the longest wait between looks at serving. Default:
        10 minutes.
    :param unreachable_after: how long a step that follows something (the job, serving, a
        batch job, a promotion) retries failures to read it (throttling, the network, Lambda
        throttled or timed out) before giving up. A job that cannot be read that long is left
        running and the execution ends with ``JobUnreachable``. Default: 6 hours.
    :param execution_timeout: an execution running longer is stopped and cleaned up.
        Default: 7 days, longer than any customization job we know of. With the poll
        intervals it must keep the longest execution's history well under Step Functions'
        25,000 events (``constructs_lib/steps/history.py``); props that do not are refused.
    :param log_retention: retention of the state machine's and functions' logs.
        Default: three months.
    :param encrypt_custom_models: encrypt the custom models with the stack's key.
        Default: true.
    :param graders: reward functions for reinforcement fine-tuning; giving any enables
        REINFORCEMENT_FINE_TUNING. Default: none. Bedrock's role may invoke exactly these.
    :param distillation: enable DISTILLATION: Bedrock's role may invoke the supported
        teacher models (``lambda_handlers/data/distillation.json``). Default: off.
    :param invocation_logs_bucket: where Bedrock's model invocation logs are, for
        distillation from logs; Bedrock's role and the validator may read them under
        ``invocation_logs_prefix``. Default: none (prompts in the data bucket only).
    :param invocation_logs_prefix: key prefix of the logs in that bucket. Default: all.
    :param promotion_targets: the endpoints executions may promote onto
        (``serving.promoteTo``): ``arns``, literal ARNs of custom model deployments and
        provisioned throughputs of this account and Region, which the promote roles may
        update exactly; and/or ``tag``, ``(key, value)`` of a tag that marks more (Validate
        and Promote read it; the update permission carries an ``aws:ResourceTag``
        condition). Default: none, so Validate refuses every request with ``promoteTo``.
    :param spending_limits: what a request may spend: ``max_model_units``, the largest
        ``serving.modelUnits`` (default 1); ``allow_commitments``, whether it may buy
        throughput with a commitment at all (default: false); ``max_training_cost_usd``, a
        ceiling on the estimated training cost it cannot raise (a higher
        ``maxTrainingCostUsd`` is refused, a request without one is held to it, so a model
        without a published training price is refused; default: none); ``prices_file``, a
        prices file whose training prices the ceilings use (default: none).
    :param state_machine_name: the state machine's name. Fixed before deployment because
        the policies name its ARN (the key's encryption context, its executions' tags).
        Default: ``<stack name>-customization``, made to fit Step Functions' 80 characters.
    :param sharded_validation: data of ``min_bytes`` or more is validated in shards by a
        Distributed Map (``constructs_lib/steps/sharded_validation.py``), with the report of
        one pass. Default: none, Validate reads all data itself (15 minutes at most).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        storage: CustomizationStorage,
        service_role: BedrockServiceRole,
        topic: sns.ITopic,
        extra_data_buckets: Sequence[s3.IBucket] = (),
        enabled_customization_types: Sequence[str] = SUPPORTED_TYPES,
        job_poll_interval: Duration = Duration.minutes(5),
        job_poll_max_interval: Duration = Duration.minutes(15),
        serving_poll_interval: Duration = Duration.minutes(1),
        serving_poll_max_interval: Duration = Duration.minutes(10),
        unreachable_after: Duration = Duration.hours(6),
        execution_timeout: Duration = Duration.days(7),
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        encrypt_custom_models: bool = True,
        graders: Sequence[GraderSpec] = (),
        distillation: bool = False,
        invocation_logs_bucket: s3.IBucket | None = None,
        invocation_logs_prefix: str = "",
        promotion_targets: PromotionTargets = NO_PROMOTION,
        spending_limits: SpendingLimits = DEFAULT_LIMITS,
        state_machine_name: str | None = None,
        sharded_validation: ShardedValidation | None = None,
        job_completion: JobCompletion = EVENT_DRIVEN,
    ) -> None:
        super().__init__(scope, construct_id)
        types = enabled_types(
            enabled_customization_types, graders=graders, distillation=distillation
        )
        check_logs(invocation_logs_bucket, invocation_logs_prefix, distillation=distillation)
        schedules = poll_schedules(
            job=(job_poll_interval, job_poll_max_interval),
            serving=(serving_poll_interval, serving_poll_max_interval),
        )
        retries = RetryPolicy(unreachable_after=literal("unreachable_after", unreachable_after))
        environment = {
            **workflow_environment(
                storage, service_role, topic, extra_data_buckets, types, encrypt_custom_models
            ),
            **schedules.environment(),
        }
        self.functions_factory = WorkflowFunctions(
            self, "Functions", key=storage.key, log_retention=log_retention, environment=environment
        )
        self.graders = self._graders(graders, service_role)
        log_locations = (
            [(invocation_logs_bucket, invocation_logs_prefix)] if invocation_logs_bucket else []
        )
        if distillation:
            service_role.allow_distillation(log_locations)
        options = RequestOptions(
            self.graders, log_locations, promotion_targets, spending_limits, sharded_validation
        ).checked(Stack.of(self))
        ctx = StepContext(
            self,
            self.functions_factory,
            storage,
            BedrockArns.of(Stack.of(self)),
            retries=retries,
            schedules=schedules,
            state_machine_name=derive_state_machine_name(self, state_machine_name),
        )
        definition = self._definition(
            ctx,
            topic=topic,
            service_role=service_role,
            extra_data_buckets=extra_data_buckets,
            options=options,
            completion=job_completion,
        )
        timeout = literal("execution_timeout", execution_timeout)
        self.state_machine = self._state_machine(ctx, definition, timeout, log_retention)
        self.worst_case_history = check_history(
            self.state_machine, ctx, timeout, options.limits.max_sweep_concurrency
        )
        self._watch_for_aborts(ctx, topic, options)
        self._keep(storage, ctx)

    def _keep(self, storage: CustomizationStorage, ctx: StepContext) -> None:
        """What users of the construct read: its storage, names, steps and functions."""
        self.storage = storage
        self.state_machine_name = ctx.state_machine_name
        self.steps = {step.key: step for step in ctx.steps}
        self.functions: dict[str, lambda_.Function] = {k: s.function for k, s in self.steps.items()}

    def _watch_for_aborts(
        self, ctx: StepContext, topic: sns.ITopic, options: RequestOptions
    ) -> None:
        """The cleanup for executions that end without running their own (stopped, timed out,
        failed outside any Catch), its dead-letter queue and its alarm."""
        abort = AbortCleanup(ctx, topic=topic)
        options.configure(abort)
        # Wait out tasks that may still be creating something billable when the execution stops.
        abort.watch(
            self.state_machine, stragglers=ctx.longest_timeout(CallKind.CREATES, CallKind.UPDATES)
        )
        self.abort_cleanup_rule = abort.rule
        self.dead_letter_queue = abort.dead_letter_queue
        self.abort_cleanup_alarm = abort.failure_alarm

    def _definition(
        self,
        ctx: StepContext,
        *,
        topic: sns.ITopic,
        service_role: BedrockServiceRole,
        extra_data_buckets: Sequence[s3.IBucket],
        options: RequestOptions,
        completion: JobCompletion,
    ) -> sfn.IChainable:
        """The chain in the order an execution runs it: one line per step."""
        notify = Notify(ctx, topic=topic)
        cleanup = Cleanup(ctx)
        on_error = cleanup.then_notify(notify)
        batch_role = batch_inference_role(ctx)
        return sequence(
            ValidateRequest(ctx, extra_data_buckets=extra_data_buckets, options=options).fragment(
                rejected=notify.failure
            ),
            training(
                ctx,
                JobFollowing(ctx, completion, service_role=service_role),
                ChooseWinner(ctx).fragment,
                on_error=on_error,
                left_running=notify.failure,
            ),
            serving.unless_not_served(
                self,
                StartServing(ctx).fragment(on_error),
                CheckServing(ctx).poll(on_error),
                evaluation.when_asked(
                    self,
                    PrepareEvaluation(ctx, batch_role=batch_role).fragment(on_error),
                    CheckEvaluationBatch(ctx).poll(on_error),
                    EvaluateModel(ctx).fragment(on_error),
                ),
            ),
            promotion.when_promoting(
                self,
                Promote(ctx, targets=options.promotion).fragment(on_error),
                CheckPromotion(ctx, targets=options.promotion).poll(on_error),
            ),
            ScheduleExpiry(ctx, cleanup=cleanup).fragment(on_error),
            notify.success(),
        ).start

    def _state_machine(
        self,
        ctx: StepContext,
        definition: sfn.IChainable,
        timeout: Duration,
        log_retention: logs.RetentionDays,
    ) -> sfn.StateMachine:
        """Standard, logged at level ALL (encrypted), traced, encrypted with the stack's key."""
        key = ctx.storage.key
        self.log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            encryption_key=key,
            retention=log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=ctx.state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
            comment="Bedrock model customization: validate, submit, wait, serve, notify; clean up on failure",
        )
        # Encrypted with the key, with permissions that name this state machine's ARN.
        execution_encryption.encrypt(state_machine, key, ctx.state_machine_name)
        acknowledge_map_policy(state_machine)
        acknowledge(
            state_machine,
            "IAM5",
            "Generated by LambdaInvoke: the role may invoke exactly these functions; ':*' covers their "
            "versions and aliases, which Step Functions may call.",
            findings=[f"Resource::{attr_ref(fn)}:*" for fn in ctx.functions_called_by_states()],
        )
        acknowledge(
            state_machine,
            "IAM5",
            "Generated for logging and tracing: CloudWatch Logs log-delivery actions and X-Ray "
            "PutTraceSegments support no resource-level permissions and require Resource '*'.",
            findings=["Resource::*"],
        )
        return state_machine

    def _graders(
        self, specs: Sequence[GraderSpec], service_role: BedrockServiceRole
    ) -> list[RftGrader]:
        """The RFT graders; Bedrock's role may invoke exactly these."""
        graders = [
            RftGrader(
                self,
                f"Grader{i}",
                functions=self.functions_factory,
                builtin=spec.builtin,
                function=spec.function,
                name=spec.name,
                judge_model_id=spec.judge_model_id,
                environment=dict(spec.environment),
            )
            for i, spec in enumerate(specs)
        ]
        names = [g.name for g in graders]
        if len(set(names)) != len(names):
            raise ValueError(f"graders: names must be unique, got {names}")
        for grader in graders:
            grader.grant_invoke_to_service_role(service_role.role)
        return graders

    def grant_start(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start executions and read them (their data is encrypted with the
        stack's key, under this state machine's encryption context)."""
        self.state_machine.grant_read(grantee)
        execution_encryption.grant_executions(
            grantee,
            self.storage.key,
            Stack.of(self),
            self.state_machine_name,
            start=True,
        )
        return self.state_machine.grant_start_execution(grantee)
