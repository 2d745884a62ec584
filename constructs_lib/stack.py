"""The stack: storage, service role, notifications and workflow, composed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_lib.grader import GraderSpec
from constructs_lib.notifications import CustomizationNotifications
from constructs_lib.observability import (
    FULL_MONITORING,
    CustomizationMonitoring,
    MonitoringOptions,
)
from constructs_lib.service_role import BedrockServiceRole
from constructs_lib.steps.job_events import EVENT_DRIVEN, JobCompletion
from constructs_lib.steps.promotion import NO_PROMOTION, PromotionTargets
from constructs_lib.steps.request import DEFAULT_LIMITS, SpendingLimits
from constructs_lib.steps.sharded_validation import ShardedValidation
from constructs_lib.storage import CustomizationStorage
from constructs_lib.workflow import SUPPORTED_TYPES, CustomizationWorkflow


class BedrockCustomizationStack(Stack):
    """Everything a team needs to run Bedrock customization requests.

    Outputs: ``StateMachineArn``, ``DataBucketName``, ``ArtifactsBucketName``,
    ``TopicArn``, ``ServiceRoleArn``, ``KeyArn``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        notification_emails: Sequence[str] = (),
        extra_data_bucket_names: Sequence[str] = (),
        enabled_customization_types: Sequence[str] = SUPPORTED_TYPES,
        job_poll_interval: Duration = Duration.minutes(5),
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        graders: Sequence[GraderSpec] = (),
        distillation: bool = False,
        invocation_logs_bucket_name: str | None = None,
        invocation_logs_prefix: str = "",
        promotion_targets: PromotionTargets = NO_PROMOTION,
        spending_limits: SpendingLimits = DEFAULT_LIMITS,
        state_machine_name: str | None = None,
        sharded_validation: ShardedValidation | None = None,
        job_completion: JobCompletion = EVENT_DRIVEN,
        monitoring: MonitoringOptions = FULL_MONITORING,
        **kwargs: Any,
    ) -> None:
        """
        :param notification_emails: subscribed to outcomes. Default: none.
        :param extra_data_bucket_names: existing buckets requests may read data from.
            Default: none.
        :param enabled_customization_types: approaches requests may use. Default:
            fine-tuning and continued pre-training.
        :param job_poll_interval: time between job status checks. Default: 5 minutes.
        :param removal_policy: of the data buckets. Default: RETAIN.
        :param graders: RFT reward functions; any enables reinforcement fine-tuning.
            Default: none.
        :param distillation: enable distillation (teacher invocation for Bedrock's role).
            Default: off.
        :param invocation_logs_bucket_name: an existing bucket with Bedrock invocation logs,
            for distillation from logs. Default: none.
        :param invocation_logs_prefix: the logs' key prefix in that bucket. Default: all.
        :param promotion_targets: endpoints executions may promote onto. Default: none.
        :param spending_limits: units, commitments, a cost ceiling, prices. Default: 1, no, none.
        :param state_machine_name: the state machine's name. Default:
            ``<stack name>-customization``.
        :param sharded_validation: validate data of ``min_bytes`` or more in shards with a
            Distributed Map. Default: none, Validate reads all data itself.
        :param job_completion: the job's end seen by its event (default) or ``POLLING``.
        :param monitoring: the dashboard and the alarms (``MonitoringOptions``). Default: all.
        """
        super().__init__(scope, construct_id, **kwargs)
        self.storage = CustomizationStorage(self, "Storage", removal_policy=removal_policy)
        extra = [
            self._existing_bucket(f"ExtraData{i}", n) for i, n in enumerate(extra_data_bucket_names)
        ]
        self.service_role = BedrockServiceRole(
            self, "BedrockServiceRole", storage=self.storage, extra_data_buckets=extra
        )
        self.notifications = CustomizationNotifications(
            self, "Notifications", key=self.storage.key, emails=notification_emails
        )
        self.workflow = CustomizationWorkflow(
            self,
            "Workflow",
            storage=self.storage,
            service_role=self.service_role,
            topic=self.notifications.topic,
            extra_data_buckets=extra,
            enabled_customization_types=enabled_customization_types,
            job_poll_interval=job_poll_interval,
            graders=graders,
            distillation=distillation,
            invocation_logs_bucket=self._logs_bucket(invocation_logs_bucket_name),
            invocation_logs_prefix=invocation_logs_prefix,
            promotion_targets=promotion_targets,
            spending_limits=spending_limits,
            state_machine_name=state_machine_name,
            sharded_validation=sharded_validation,
            job_completion=job_completion,
        )
        self.monitoring = self._monitoring(monitoring)
        self._outputs()

    def _logs_bucket(self, name: str | None) -> s3.IBucket | None:
        return self._existing_bucket("InvocationLogs", name) if name else None

    def _existing_bucket(self, construct_id: str, name: str) -> s3.IBucket:
        """A bucket of this account, by name."""
        return s3.Bucket.from_bucket_name(self, construct_id, name)

    def _monitoring(self, options: MonitoringOptions) -> CustomizationMonitoring:
        """The dashboard and the alarms, on the workflow, to the topic."""
        return CustomizationMonitoring(
            self,
            "Monitoring",
            state_machine=self.workflow.state_machine,
            functions=self.workflow.functions,
            topic=self.notifications.topic,
            key=self.storage.key,
            options=options,
        )

    def _outputs(self) -> None:
        """What operators and the command line look up: ARNs and names of the stack's parts."""
        outputs = {
            "StateMachineArn": self.workflow.state_machine.state_machine_arn,
            "DataBucketName": self.storage.data_bucket.bucket_name,
            "ArtifactsBucketName": self.storage.artifacts_bucket.bucket_name,
            "TopicArn": self.notifications.topic.topic_arn,
            "ServiceRoleArn": self.service_role.role_arn,
            "KeyArn": self.storage.key.key_arn,
        }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)
