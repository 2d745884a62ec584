"""The customization workflow: handlers and the Step Functions state machine.

Validate request -> Submit customization job -> (Wait, Check job status)* ->
Serve the model? -> (Start serving, (Wait, Check serving status)*) -> Notify success.

Every task after validation catches every error into the failure branch:
Clean up (stop the job, delete serving it created) -> Notify failure -> Fail.
An execution that is stopped or times out runs no more states, so an EventBridge rule
sends it to the same cleanup.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from constructs_lib.functions import WorkflowFunctions
from constructs_lib.grader import GraderSpec, RftGrader
from constructs_lib.nag import account_arn, acknowledge, attr_ref
from constructs_lib.service_role import BedrockServiceRole, bedrock_principal
from constructs_lib.storage import CustomizationStorage
from lambda_handlers.common import catalogue
from lambda_handlers.common.catalogue import inference_model_id

SUPPORTED_TYPES = ("FINE_TUNING", "CONTINUED_PRE_TRAINING")
THROTTLING_ERRORS = ["BedrockThrottled", "BedrockUnavailable"]


def _role(fn: lambda_.Function) -> iam.IRole:
    """The function's role (WorkflowFunctions always gives one)."""
    assert fn.role is not None
    return fn.role


class CustomizationWorkflow(Construct):
    """Lambda handlers and the Standard state machine that runs a customization request.

    Attributes: ``state_machine``, ``functions`` (by name), ``abort_cleanup_rule``,
    ``dead_letter_queue``.
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
        serving_poll_interval: Duration = Duration.minutes(1),
        execution_timeout: Duration = Duration.days(7),
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        encrypt_custom_models: bool = True,
        graders: Sequence[GraderSpec] = (),
        distillation: bool = False,
        invocation_logs_bucket: s3.IBucket | None = None,
        invocation_logs_prefix: str = "",
    ) -> None:
        """
        :param storage: buckets and key.
        :param service_role: the role Bedrock assumes; the submit function may pass it.
        :param topic: where outcomes are published.
        :param extra_data_buckets: other buckets requests may name for data. Default: none.
        :param enabled_customization_types: the approaches requests may use. Default:
            fine-tuning and continued pre-training.
        :param job_poll_interval: time between job status checks. Default: 5 minutes;
            jobs run for hours and a check costs one state transition.
        :param serving_poll_interval: time between serving status checks. Default: 1 minute.
        :param execution_timeout: an execution running longer is stopped and cleaned up.
            Default: 7 days, longer than any customization job we know of.
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
        """
        super().__init__(scope, construct_id)
        unknown = sorted(set(enabled_customization_types) - set(SUPPORTED_TYPES))
        if unknown:
            raise ValueError(
                f"enabled_customization_types: {unknown} not supported by this prop; allowed: "
                f"{list(SUPPORTED_TYPES)} (reinforcement fine-tuning is enabled by graders)"
            )
        if not enabled_customization_types:
            raise ValueError(
                "enabled_customization_types must name at least one type, got an empty list"
            )
        if invocation_logs_bucket is not None and not distillation:
            raise ValueError(
                "invocation_logs_bucket is for distillation: set distillation=True too"
            )
        if invocation_logs_prefix.startswith("/") or "*" in invocation_logs_prefix:
            raise ValueError(
                f"invocation_logs_prefix must be a key prefix (no leading '/', no '*'), got {invocation_logs_prefix!r}"
            )
        enabled_customization_types = tuple(enabled_customization_types) + tuple(
            t
            for t, on in (
                ("DISTILLATION", distillation),
                ("REINFORCEMENT_FINE_TUNING", bool(graders)),
            )
            if on
        )
        for prop, value, low in (
            ("job_poll_interval", job_poll_interval, 10),
            ("serving_poll_interval", serving_poll_interval, 10),
        ):
            if not value.is_unresolved() and value.to_seconds() < low:
                raise ValueError(
                    f"{prop} must be at least {low} seconds, got {value.to_seconds()} seconds"
                )

        stack = Stack.of(self)
        key = storage.key
        self.functions_factory = WorkflowFunctions(
            self,
            "Functions",
            key=key,
            log_retention=log_retention,
            environment={
                "DATA_BUCKET": storage.data_bucket.bucket_name,
                "ARTIFACTS_BUCKET": storage.artifacts_bucket.bucket_name,
                "DATA_PREFIXES": ",".join(storage.data_prefixes),
                "OUTPUT_PREFIX": storage.output_prefix,
                "REPORTS_PREFIX": storage.reports_prefix,
                "EXTRA_DATA_BUCKETS": ",".join(b.bucket_name for b in extra_data_buckets),
                "ENABLED_CUSTOMIZATION_TYPES": ",".join(enabled_customization_types),
                "SERVICE_ROLE_ARN": service_role.role_arn,
                "KMS_KEY_ARN": key.key_arn if encrypt_custom_models else "",
                "TOPIC_ARN": topic.topic_arn,
                "STACK_NAME": stack.stack_name,
            },
        )
        make = self.functions_factory.function
        fns = {
            "validate": make(
                "ValidateRequest",
                handler="validate_request.handler",
                description="Checks a customization request and its training data, resolves it into a plan",
                # Streams the whole dataset from S3: time and CPU (memory buys CPU) for large files.
                timeout=Duration.minutes(15),
                memory_size=2048,
            ),
            "submit": make(
                "SubmitJob",
                handler="submit_job.handler",
                description="Submits the Bedrock model customization job, once per execution",
            ),
            "check_job": make(
                "CheckJob",
                handler="check_job.handler",
                description="Reads the customization job's status",
            ),
            "start_serving": make(
                "StartServing",
                handler="start_serving.handler",
                description="Creates provisioned throughput or an on-demand deployment",
            ),
            "check_serving": make(
                "CheckServing",
                handler="check_serving.handler",
                description="Reads the serving resource's status",
            ),
            "cleanup": make(
                "Cleanup",
                handler="cleanup.handler",
                timeout=Duration.minutes(2),
                description="Stops the job and deletes serving resources of a failed execution",
            ),
            "notify": make(
                "Notify", handler="notify.handler", description="Publishes the execution's outcome"
            ),
            "abort_cleanup": make(
                "AbortCleanup",
                handler="cleanup.abort_handler",
                timeout=Duration.minutes(3),  # two passes, with the straggler wait between
                description="Cleans up after an execution was stopped or timed out",
            ),
            "evaluate": make(
                "EvaluateModel",
                handler="evaluate_model.handler",
                description="Scores the served custom model against the base model; applies the quality gate",
                # Up to maxRecords x 2 Converse calls, bounded concurrency.
                timeout=Duration.minutes(15),
                memory_size=1024,
            ),
            "prepare_evaluation": make(
                "PrepareEvaluation",
                handler="batch_evaluation.prepare_handler",
                description="Reads the test set; from 100 records starts a batch inference job for the base model",
                timeout=Duration.minutes(1),
                memory_size=1024,
            ),
            "check_evaluation_batch": make(
                "CheckEvaluationBatch",
                handler="batch_evaluation.check_handler",
                description="Reads the batch inference job's status",
            ),
            "promote": make(
                "Promote",
                handler="promote.start_handler",
                description="Swaps the new model onto an existing deployment or throughput",
            ),
            "check_promotion": make(
                "CheckPromotion",
                handler="promote.check_handler",
                description="Reads whether the promoted endpoint serves the new model",
            ),
            "schedule_expiry": make(
                "ScheduleExpiry",
                handler="schedule_expiry.handler",
                description="Schedules the deletion of serving after the request's time-to-live",
            ),
        }
        self.functions = fns
        if not serving_poll_interval.is_unresolved():
            fns["start_serving"].add_environment(
                "SERVING_POLL_SECONDS", str(int(serving_poll_interval.to_seconds()))
            )
        self._grant(fns, storage, service_role, topic, extra_data_buckets, stack)
        self._expiry(fns, stack)

        self.graders = [
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
            for i, spec in enumerate(graders)
        ]
        names = [g.name for g in self.graders]
        if len(set(names)) != len(names):
            raise ValueError(f"graders: names must be unique, got {names}")
        for grader in self.graders:
            grader.grant_invoke_to_service_role(service_role.role)
        if distillation:
            log_locations = (
                [(invocation_logs_bucket, invocation_logs_prefix)] if invocation_logs_bucket else []
            )
            service_role.allow_distillation(log_locations)
            for bucket, prefix in log_locations:
                # Both functions that check requests must accept the same ones: the abort
                # cleanup rebuilds the plan from the request and would skip an RFT or logs job.
                for name in ("validate", "abort_cleanup"):
                    fns[name].add_environment(
                        "INVOCATION_LOGS_URIS", f"s3://{bucket.bucket_name}/{prefix}"
                    )
                allow_logs = iam.Policy(
                    self,
                    "ValidatorReadsInvocationLogs",
                    statements=[
                        iam.PolicyStatement(
                            actions=["s3:GetObject"],
                            resources=[bucket.arn_for_objects(f"{prefix}*")],
                        ),
                        iam.PolicyStatement(
                            actions=["s3:ListBucket"],
                            resources=[bucket.bucket_arn],
                            conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
                        ),
                    ],
                )
                allow_logs.attach_to_role(_role(fns["validate"]))
                acknowledge(
                    allow_logs,
                    "IAM5",
                    "The validator reads the invocation-log objects a distillation request selects, under "
                    "the granted prefix; Bedrock's log delivery chooses their keys.",
                    findings=[
                        f"Resource::arn:<AWS::Partition>:s3:::{bucket.bucket_name}/{prefix}*"
                    ],
                )
        if self.graders:
            graders_json = stack.to_json_string({g.name: g.function_arn for g in self.graders})
            for name in ("validate", "abort_cleanup"):
                fns[name].add_environment("GRADERS", graders_json)

        self.log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            encryption_key=key,
            retention=log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(
                self._definition(fns, job_poll_interval, serving_poll_interval)
            ),
            timeout=execution_timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
            encryption_configuration=sfn.CustomerManagedEncryptionConfiguration(key),
            comment="Bedrock model customization: validate, submit, wait, serve, notify; clean up on failure",
        )
        acknowledge(
            self.state_machine,
            "IAM5",
            "Generated by LambdaInvoke: the role may invoke exactly these functions; ':*' covers their "
            "versions and aliases, which Step Functions may call.",
            findings=[
                f"Resource::{attr_ref(fn)}:*" for name, fn in fns.items() if name != "abort_cleanup"
            ],
        )
        acknowledge(
            self.state_machine,
            "IAM5",
            "Generated for logging and tracing: CloudWatch Logs log-delivery actions and X-Ray "
            "PutTraceSegments support no resource-level permissions and require Resource '*'.",
            findings=["Resource::*"],
        )

        # Stopped or timed-out executions run no Catch: clean up from their status event.
        self.dead_letter_queue = sqs.Queue(
            self,
            "AbortCleanupDeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.dead_letter_queue,
            "SQS3",
            "This queue is itself the dead-letter queue of the abort-cleanup rule; it needs none of its own.",
        )
        abort_fn = fns["abort_cleanup"]
        # Wait out tasks that may still be creating something billable when the execution stops.
        creators = ("submit", "start_serving", "prepare_evaluation", "promote")
        longest = max(int(t.to_seconds()) for t in (fns[name].timeout for name in creators) if t)
        abort_fn.add_environment("STRAGGLER_WAIT_SECONDS", str(longest + 5))
        abort_fn.configure_async_invoke(retry_attempts=2)
        abort_fn.add_environment("STATE_MACHINE_ARN", self.state_machine.state_machine_arn)
        abort_fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:DescribeExecution"],
                resources=[
                    stack.format_arn(
                        service="states",
                        resource="execution",
                        resource_name=f"{self.state_machine.state_machine_name}:*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        acknowledge(
            _role(abort_fn),
            "IAM5",
            "DescribeExecution on the executions of this state machine only; execution names are chosen "
            "when an execution starts.",
            findings=[
                f"Resource::{account_arn(self, 'states', 'execution:' + attr_ref(self.state_machine, 'Name') + ':*')}"
            ],
        )
        self.abort_cleanup_rule = events.Rule(
            self,
            "AbortCleanupRule",
            description="Clean up after customization executions that were stopped or timed out",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": ["ABORTED", "TIMED_OUT"],
                    "stateMachineArn": [self.state_machine.state_machine_arn],
                },
            ),
            targets=[
                targets.LambdaFunction(
                    abort_fn,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=8,
                    max_event_age=Duration.hours(2),
                )
            ],
        )
        key.grant_encrypt_decrypt(iam.ServicePrincipal("events.amazonaws.com"))

    def _expiry(self, fns: dict[str, lambda_.Function], stack: Stack) -> None:
        """A one-time schedule per served model, run by EventBridge Scheduler with a role that
        may invoke the cleanup function only."""
        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            description="EventBridge Scheduler invokes the cleanup when serving's time-to-live ends",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
        )
        fns["cleanup"].grant_invoke(self.scheduler_role)
        expiry = fns["schedule_expiry"]
        expiry.add_environment("EXPIRY_TARGET_ARN", fns["cleanup"].function_arn)
        expiry.add_environment("SCHEDULER_ROLE_ARN", self.scheduler_role.role_arn)
        expiry.add_environment("SCHEDULE_GROUP", "default")
        expiry.add_to_role_policy(
            iam.PolicyStatement(
                actions=["scheduler:CreateSchedule"],
                resources=[
                    stack.format_arn(
                        service="scheduler", resource="schedule", resource_name="default/expire-*"
                    )
                ],
            )
        )
        iam.Grant.add_to_principal(
            grantee=expiry,
            actions=["iam:PassRole"],
            resource_arns=[self.scheduler_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
        )
        acknowledge(
            _role(expiry),
            "IAM5",
            "Schedule names are derived from the execution at run time; the ARN allows only this "
            "Region and account's default group and names starting with 'expire-'.",
            findings=[f"Resource::{account_arn(self, 'scheduler', 'schedule/default/expire-*')}"],
        )
        acknowledge(
            self.scheduler_role,
            "IAM5",
            "Generated by grant_invoke: the cleanup function and its versions (':*'), nothing else.",
            findings=[f"Resource::{attr_ref(fns['cleanup'])}:*"],
        )

    # -- permissions -------------------------------------------------------------------

    def _grant(self, fns, storage, service_role, topic, extra_data_buckets, stack) -> None:
        def arn(resource: str) -> str:
            return stack.format_arn(service="bedrock", resource=resource, resource_name="*")

        job_arns = [arn("model-customization-job")]
        custom_model_arns = [arn("custom-model")]
        throughput_arns = [arn("provisioned-model")]
        deployment_arns = [arn("custom-model-deployment")]
        base_model_arns = [
            stack.format_arn(
                service="bedrock",
                account="",
                resource="foundation-model",
                resource_name=inference_model_id(m),
            )
            for m in sorted(catalogue.models())
        ]
        foundation_arns = [
            stack.format_arn(
                service="bedrock", account="", resource="foundation-model", resource_name=model_id
            )
            for model_id in sorted(catalogue.models())
        ]

        def allow(fn: lambda_.Function, actions: list[str], resources: list[str]) -> None:
            fn.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=resources))

        run_time_ids = (
            "Bedrock assigns job, custom model, provisioned throughput and deployment IDs at run time, so "
            "these ARNs name the resource type of this account and Region; the handler acts only on the "
            "resource whose name and token (or execution tag) are this execution's."
        )

        def acknowledge_bedrock(fn: lambda_.Function, resource_types: list[str]) -> None:
            acknowledge(
                _role(fn),
                "IAM5",
                run_time_ids,
                findings=[
                    f"Resource::{account_arn(self, 'bedrock', f'{t}/*')}" for t in resource_types
                ],
            )

        # Validate: the data must exist (HeadObject needs s3:GetObject).
        storage.grant_read_data(fns["validate"])
        storage.grant_write_reports(fns["validate"])
        if extra_data_buckets:
            allow(
                fns["validate"],
                ["s3:GetObject"],
                [b.arn_for_objects("*") for b in extra_data_buckets],
            )
        acknowledge(
            _role(fns["validate"]),
            "IAM5",
            "The validator reads the dataset a request names, anywhere under the data prefixes, and "
            "writes its report under the reports prefix, in a folder named after the job.",
            findings=[
                f"Resource::{attr_ref(storage.data_bucket)}/{p}*" for p in storage.data_prefixes
            ]
            + [f"Resource::{attr_ref(storage.artifacts_bucket)}/{storage.reports_prefix}*"]
            + [
                f"Resource::arn:<AWS::Partition>:s3:::{b.bucket_name}/*" for b in extra_data_buckets
            ],
        )

        # Submit: create (with tags) and read back its own job; pass the service role.
        allow(
            fns["submit"],
            ["bedrock:CreateModelCustomizationJob", "bedrock:TagResource"],
            foundation_arns + job_arns + custom_model_arns,
        )
        allow(fns["submit"], ["bedrock:GetModelCustomizationJob"], job_arns)
        service_role.grant_pass_role(fns["submit"])

        allow(fns["check_job"], ["bedrock:GetModelCustomizationJob"], job_arns)

        allow(
            fns["start_serving"],
            [
                "bedrock:CreateProvisionedModelThroughput",
                "bedrock:CreateCustomModelDeployment",
                "bedrock:TagResource",
            ],
            custom_model_arns + throughput_arns + deployment_arns,
        )
        allow(
            fns["check_serving"],
            ["bedrock:GetProvisionedModelThroughput", "bedrock:GetCustomModelDeployment"],
            throughput_arns + deployment_arns,
        )

        # A custom model encrypted with the stack's key: creating it and serving it use the key through Bedrock.
        for name in ("submit", "start_serving"):
            fns[name].add_to_role_policy(
                iam.PolicyStatement(
                    actions=[
                        "kms:DescribeKey",
                        "kms:CreateGrant",
                        "kms:GenerateDataKey",
                        "kms:Decrypt",
                    ],
                    resources=[storage.key.key_arn],
                    conditions={
                        "StringEquals": {"kms:ViaService": f"bedrock.{stack.region}.amazonaws.com"}
                    },
                )
            )

        acknowledge_bedrock(fns["submit"], ["model-customization-job", "custom-model"])
        acknowledge_bedrock(fns["check_job"], ["model-customization-job"])
        acknowledge_bedrock(
            fns["start_serving"], ["custom-model", "provisioned-model", "custom-model-deployment"]
        )
        acknowledge_bedrock(fns["check_serving"], ["provisioned-model", "custom-model-deployment"])
        for name in ("cleanup", "abort_cleanup"):
            acknowledge_bedrock(
                fns[name],
                ["model-customization-job", "provisioned-model", "custom-model-deployment"],
            )
            allow(
                fns[name],
                ["bedrock:GetModelCustomizationJob", "bedrock:StopModelCustomizationJob"],
                job_arns,
            )
            allow(
                fns[name],
                [
                    "bedrock:GetProvisionedModelThroughput",
                    "bedrock:DeleteProvisionedModelThroughput",
                    "bedrock:GetCustomModelDeployment",
                    "bedrock:DeleteCustomModelDeployment",
                    "bedrock:ListTagsForResource",
                ],
                throughput_arns + deployment_arns,
            )
        # Batch evaluation: a role Bedrock assumes to run the base model on the test prompts.
        batch_job_arns = [arn("model-invocation-job")]
        self.batch_role = iam.Role(
            self,
            "BatchInferenceRole",
            description="Assumed by Amazon Bedrock to run this stack's evaluation batch jobs",
            assumed_by=bedrock_principal(stack, batch_job_arns[0]),
        )
        batch_reports = storage.artifacts_bucket.arn_for_objects(f"{storage.reports_prefix}*")
        batch_policy = iam.Policy(
            self,
            "BatchInferencePolicy",
            statements=[
                iam.PolicyStatement(
                    actions=["s3:GetObject", "s3:PutObject"], resources=[batch_reports]
                ),
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[storage.artifacts_bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{storage.reports_prefix}*"]}},
                ),
                iam.PolicyStatement(actions=["bedrock:InvokeModel"], resources=base_model_arns),
                iam.PolicyStatement(
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=[storage.key.key_arn],
                    conditions={
                        "StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}
                    },
                ),
            ],
        )
        batch_policy.attach_to_role(self.batch_role)
        acknowledge(
            batch_policy,
            "IAM5",
            "Bedrock reads the evaluation prompts and writes its answers under the reports prefix, "
            "in folders named after the job and keys it chooses.",
            findings=[f"Resource::{attr_ref(storage.artifacts_bucket)}/{storage.reports_prefix}*"],
        )
        prepare = fns["prepare_evaluation"]
        prepare.add_environment("BATCH_ROLE_ARN", self.batch_role.role_arn)
        storage.grant_read_data(prepare)
        storage.grant_write_reports(prepare)
        allow(
            prepare,
            ["bedrock:CreateModelInvocationJob", "bedrock:TagResource"],
            batch_job_arns + base_model_arns,
        )
        iam.Grant.add_to_principal(
            grantee=prepare,
            actions=["iam:PassRole"],
            resource_arns=[self.batch_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
        )
        allow(fns["check_evaluation_batch"], ["bedrock:GetModelInvocationJob"], batch_job_arns)
        acknowledge_bedrock(prepare, ["model-invocation-job"])
        acknowledge_bedrock(fns["check_evaluation_batch"], ["model-invocation-job"])
        acknowledge(
            _role(prepare),
            "IAM5",
            "Prepare reads the test set a request names under the data prefixes and writes the batch "
            "input under the reports prefix, in a folder named after the job.",
            findings=[
                f"Resource::{attr_ref(storage.data_bucket)}/{p}*" for p in storage.data_prefixes
            ]
            + [f"Resource::{attr_ref(storage.artifacts_bucket)}/{storage.reports_prefix}*"],
        )
        # The evaluation reads the batch answers back.
        fns["evaluate"].add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[batch_reports])
        )
        fns["evaluate"].add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[storage.artifacts_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{storage.reports_prefix}*"]}},
            )
        )
        for name in ("cleanup", "abort_cleanup"):
            allow(fns[name], ["bedrock:StopModelInvocationJob"], batch_job_arns)
            # ListModelInvocationJobs is a list action: it takes no resource ARN.
            allow(fns[name], ["bedrock:ListModelInvocationJobs"], ["*"])
            acknowledge(
                _role(fns[name]),
                "IAM5",
                "bedrock:ListModelInvocationJobs supports no resource-level permission (Resource '*' is "
                "required); cleanup lists by the derived job name and stops only that job.",
                findings=["Resource::*"],
            )
            acknowledge_bedrock(fns[name], ["model-invocation-job"])

        # Promotion: update (and read) an existing endpoint the request names.
        for name, actions in (
            (
                "promote",
                [
                    "bedrock:UpdateCustomModelDeployment",
                    "bedrock:UpdateProvisionedModelThroughput",
                    "bedrock:GetCustomModelDeployment",
                    "bedrock:GetProvisionedModelThroughput",
                ],
            ),
            (
                "check_promotion",
                ["bedrock:GetCustomModelDeployment", "bedrock:GetProvisionedModelThroughput"],
            ),
        ):
            allow(fns[name], actions, throughput_arns + deployment_arns)
            acknowledge_bedrock(fns[name], ["provisioned-model", "custom-model-deployment"])
        fns["promote"].add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "kms:DescribeKey",
                    "kms:CreateGrant",
                    "kms:GenerateDataKey",
                    "kms:Decrypt",
                ],
                resources=[storage.key.key_arn],
                conditions={
                    "StringEquals": {"kms:ViaService": f"bedrock.{stack.region}.amazonaws.com"}
                },
            )
        )
        # A model that fails the quality gate is deleted (it costs storage every month).
        allow(fns["cleanup"], ["bedrock:DeleteCustomModel"], custom_model_arns)
        acknowledge_bedrock(fns["cleanup"], ["custom-model"])
        # Evaluation: the served custom model (throughput or deployment) and the base models.
        allow(
            fns["evaluate"],
            ["bedrock:InvokeModel"],
            throughput_arns + deployment_arns + base_model_arns,
        )
        acknowledge_bedrock(fns["evaluate"], ["provisioned-model", "custom-model-deployment"])
        storage.grant_read_data(fns["evaluate"])
        storage.grant_write_reports(fns["evaluate"])
        acknowledge(
            _role(fns["evaluate"]),
            "IAM5",
            "The evaluation reads the test set a request names under the data prefixes and writes its "
            "results under the reports prefix, in a folder named after the job.",
            findings=[
                f"Resource::{attr_ref(storage.data_bucket)}/{p}*" for p in storage.data_prefixes
            ]
            + [f"Resource::{attr_ref(storage.artifacts_bucket)}/{storage.reports_prefix}*"],
        )
        for name in ("notify", "abort_cleanup"):
            allow(fns[name], ["sns:Publish"], [topic.topic_arn])
            allow(fns[name], ["kms:GenerateDataKey", "kms:Decrypt"], [storage.key.key_arn])

    # -- definition --------------------------------------------------------------------

    def _definition(
        self, fns, job_poll_interval: Duration, serving_poll_interval: Duration
    ) -> sfn.IChainable:
        def invoke(
            name: str,
            fn: lambda_.IFunction,
            payload: sfn.TaskInput | None,
            result_path: str | None,
            comment: str,
        ) -> tasks.LambdaInvoke:
            task = tasks.LambdaInvoke(
                self,
                name,
                lambda_function=fn,
                payload=payload,
                result_path=result_path,
                payload_response_only=True,
                retry_on_service_exceptions=True,
                comment=comment,
            )
            task.add_retry(
                errors=THROTTLING_ERRORS,
                interval=Duration.seconds(5),
                backoff_rate=2,
                max_attempts=6,
                max_delay=Duration.minutes(2),
                jitter_strategy=sfn.JitterType.FULL,
            )
            return task

        # Failure branch.
        fail = sfn.Fail(
            self, "Customization failed", error_path="$.error.Error", cause_path="$.error.Cause"
        )
        notify_failure = invoke(
            "Notify failure",
            fns["notify"],
            sfn.TaskInput.from_object({"outcome": "FAILED", "state": sfn.JsonPath.object_at("$")}),
            "$.notification",
            "Publishes the failure and what cleanup did",
        )
        notify_failure.add_catch(fail, errors=["States.ALL"], result_path="$.notificationError")
        notify_failure.next(fail)
        cleanup = invoke(
            "Clean up",
            fns["cleanup"],
            None,
            "$.cleanup",
            "Stops the job and deletes serving this execution created",
        )
        cleanup.add_catch(notify_failure, errors=["States.ALL"], result_path="$.cleanupError")
        cleanup.next(notify_failure)

        def on_failure(task: sfn.TaskStateBase) -> None:
            task.add_catch(cleanup, errors=["States.ALL"], result_path="$.error")

        # Validation: nothing exists yet, so a rejected request goes straight to the notification.
        validate = invoke(
            "Validate request",
            fns["validate"],
            sfn.TaskInput.from_object(
                {
                    "request": sfn.JsonPath.object_at("$"),
                    "execution": {
                        "id": sfn.JsonPath.execution_id,
                        "name": sfn.JsonPath.execution_name,
                    },
                }
            ),
            "$",
            "Checks the request; rejects it with every problem listed",
        )
        # The input may not even be an object, so the error replaces it rather than joining it.
        rejected = sfn.Pass(
            self, "Request rejected", parameters={"error": sfn.JsonPath.object_at("$")}
        )
        rejected.next(notify_failure)
        validate.add_catch(rejected, errors=["States.ALL"], result_path="$")

        def step(name: str, fn_name: str, result_path: str, comment: str) -> tasks.LambdaInvoke:
            """A task on the state, whose every failure goes to cleanup."""
            task = invoke(name, fns[fn_name], None, result_path, comment)
            on_failure(task)
            return task

        def poll(
            wait_name: str,
            wait_time: sfn.WaitTime,
            check: sfn.TaskStateBase,
            choice_name: str,
            done: sfn.Condition,
            then: sfn.IChainable,
        ) -> sfn.Wait:
            """Wait, check, and go on to ``then`` once ``done``; else wait again."""
            wait = sfn.Wait(self, wait_name, time=wait_time)
            wait.next(check)
            check.next(sfn.Choice(self, choice_name).when(done, then).otherwise(wait))
            return wait

        submit = step(
            "Submit customization job",
            "submit",
            "$.job",
            "CreateModelCustomizationJob with a token derived from the execution",
        )
        submit.add_retry(
            errors=["ServiceRoleNotReady"],
            interval=Duration.seconds(10),
            backoff_rate=1.5,
            max_attempts=6,
            jitter_strategy=sfn.JitterType.FULL,
        )
        submit.add_retry(
            errors=["QuotaExceeded"],
            interval=Duration.minutes(10),
            backoff_rate=1,
            max_attempts=36,
            jitter_strategy=sfn.JitterType.FULL,
        )

        notify_success = invoke(
            "Notify success",
            fns["notify"],
            sfn.TaskInput.from_object(
                {"outcome": "SUCCEEDED", "state": sfn.JsonPath.object_at("$")}
            ),
            "$.notification",
            "Publishes the custom model and how to invoke it",
        )
        succeeded = sfn.Succeed(self, "Customization succeeded")
        # The model is trained and served: a lost notification must not tear that down.
        notify_success.add_catch(
            succeeded, errors=["States.ALL"], result_path="$.notificationError"
        )
        notify_success.next(succeeded)

        # Built from the end backwards: each piece names what comes after it.
        schedule_expiry = step(
            "Schedule serving expiry",
            "schedule_expiry",
            "$.expiry",
            "A one-time schedule deletes serving when the request's time-to-live ends",
        )
        schedule_expiry.next(notify_success)
        expire = (
            sfn.Choice(self, "Time-to-live?")
            .when(sfn.Condition.is_present("$.plan.serving.timeToLiveHours"), schedule_expiry)
            .otherwise(notify_success)
        )

        promote = step(
            "Promote onto the endpoint",
            "promote",
            "$.promotion",
            "Update the named deployment or throughput to the new model; the old one is recorded",
        )
        promote.next(
            poll(
                "Wait for promotion",
                sfn.WaitTime.duration(serving_poll_interval),
                step(
                    "Check promotion",
                    "check_promotion",
                    "$.promotion",
                    "Fails if the endpoint refused",
                ),
                "Promoted?",
                sfn.Condition.boolean_equals("$.promotion.done", True),
                expire,
            )
        )
        promote_or_not = (
            sfn.Choice(self, "Promote?")
            .when(sfn.Condition.is_present("$.plan.promoteTo"), promote)
            .otherwise(expire)
        )

        evaluate = step(
            "Evaluate the model",
            "evaluate",
            "$.evaluation",
            "Custom against base model on the held-out test set; fails on the quality gate",
        )
        evaluate.next(promote_or_not)
        prepare = step(
            "Prepare evaluation",
            "prepare_evaluation",
            "$.evaluationPrep",
            "From 100 test records, the base model answers through a batch inference job",
        )
        wait_batch = poll(
            "Wait for batch evaluation",
            sfn.WaitTime.duration(job_poll_interval),
            step(
                "Check batch evaluation",
                "check_evaluation_batch",
                "$.evaluationPrep",
                "Fails if the batch job failed, expired or was stopped",
            ),
            "Batch done?",
            sfn.Condition.boolean_equals("$.evaluationPrep.done", True),
            evaluate,
        )
        prepare.next(
            sfn.Choice(self, "Batch inference?")
            .when(sfn.Condition.string_equals("$.evaluationPrep.mode", "batch"), wait_batch)
            .otherwise(evaluate)
        )
        evaluate_or_not = (
            sfn.Choice(self, "Evaluate?")
            .when(sfn.Condition.is_present("$.plan.evaluation"), prepare)
            .otherwise(promote_or_not)
        )

        start_serving = step(
            "Start serving",
            "start_serving",
            "$.serving",
            "Provisioned throughput or on-demand deployment of the custom model",
        )
        start_serving.next(
            poll(
                # Starts at serving_poll_interval, doubles at each check up to 10 minutes.
                "Wait for serving",
                sfn.WaitTime.seconds_path("$.serving.pollSeconds"),
                step(
                    "Check serving status",
                    "check_serving",
                    "$.serving",
                    "Fails when serving ends in Failed",
                ),
                "Serving ready?",
                sfn.Condition.boolean_equals("$.serving.ready", True),
                evaluate_or_not,
            )
        )
        serve = (
            sfn.Choice(self, "Serve the model?")
            .when(sfn.Condition.string_equals("$.plan.serving.mode", "none"), promote_or_not)
            .otherwise(start_serving)
        )
        wait_job = poll(
            "Wait for job",
            sfn.WaitTime.duration(job_poll_interval),
            step(
                "Check job status",
                "check_job",
                "$.job",
                "GetModelCustomizationJob; fails on Failed or Stopped",
            ),
            "Job completed?",
            sfn.Condition.string_equals("$.job.status", "Completed"),
            serve,
        )
        return validate.next(submit).next(wait_job)

    def grant_start(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start executions (and read them)."""
        self.state_machine.grant_read(grantee)
        return self.state_machine.grant_start_execution(grantee)
