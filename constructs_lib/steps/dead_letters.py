"""Where the abort cleanup's failures go, and who is told.

The abort cleanup runs outside any execution: EventBridge invokes it asynchronously, and a
failure there (throttling past every retry, a bug) would otherwise be recorded nowhere while
a job or an endpoint goes on billing. Both ways it can fail end in one dead-letter queue:

- EventBridge could not invoke it (8 retries over up to 2 hours): the rule's dead-letter queue.
- It ran and failed, twice more after the first (Lambda's asynchronous retries): its
  on-failure destination.

An alarm on that queue publishes to the stack's topic. Every service that touches the queue or
the topic through the stack's key may do so only for this rule, this function or this alarm.
"""

from __future__ import annotations

import jsii
from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from constructs_lib.nag import acknowledge


@jsii.implements(lambda_.IDestination)
class _QueueDestination:
    """An on-failure destination whose permissions are written by hand: CDK's
    ``SqsDestination`` grants every use of the queue's key with no condition."""

    def __init__(self, queue: sqs.IQueue) -> None:
        self.queue = queue

    def bind(
        self,
        scope: Construct,
        fn: lambda_.IFunction,
        *,
        type: lambda_.DestinationType | None = None,
    ) -> lambda_.DestinationConfig:
        return lambda_.DestinationConfig(destination=self.queue.queue_arn)


def dead_letter_queue(scope: Construct, key: kms.IKey) -> sqs.Queue:
    """The queue both failures go to, encrypted with the stack's key, kept two weeks."""
    queue = sqs.Queue(
        scope,
        "AbortCleanupDeadLetters",
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    acknowledge(
        queue,
        "SQS3",
        "This queue is itself the dead-letter queue of the abort cleanup (its rule and its "
        "function); it needs none of its own.",
    )
    return queue


def send_failures_to(function: lambda_.Function, queue: sqs.Queue, key: kms.IKey) -> None:
    """Lambda's two asynchronous retries, then the invocation record to ``queue``."""
    function.configure_async_invoke(retry_attempts=2, on_failure=_QueueDestination(queue))
    function.add_to_role_policy(
        iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn])
    )
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=[key.key_arn],
            conditions={
                "StringEquals": {"kms:ViaService": f"sqs.{Stack.of(function).region}.amazonaws.com"}
            },
        )
    )


def _from_source(scope: IConstruct, source_arn: str) -> dict[str, dict[str, str]]:
    """A service principal's request on behalf of exactly one resource of this account."""
    return {
        "StringEquals": {"aws:SourceAccount": Stack.of(scope).account},
        "ArnEquals": {"aws:SourceArn": source_arn},
    }


def _allow_on_key(key: kms.IKey, sid: str, service: str, source_arn: str) -> None:
    """``service`` may encrypt and decrypt with ``key`` for ``source_arn`` only."""
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid=sid,
            principals=[iam.ServicePrincipal(service)],
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=["*"],  # a key policy's resource is always the key itself
            conditions=_from_source(key, source_arn),
        )
    )


def allow_rule_to_dead_letter(key: kms.IKey, rule_arn: str) -> None:
    """EventBridge encrypts what the rule could not deliver, for this rule only."""
    _allow_on_key(key, "AllowAbortCleanupRuleDeadLetters", "events.amazonaws.com", rule_arn)


def alarm_on_dead_letters(
    scope: Construct, queue: sqs.Queue, topic: sns.ITopic, key: kms.IKey, name: str
) -> cloudwatch.Alarm:
    """An alarm, published to the topic, as soon as one failure is in the queue."""
    stack = Stack.of(scope)
    alarm_arn = stack.format_arn(
        service="cloudwatch",
        resource="alarm",
        resource_name=name,
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    alarm = cloudwatch.Alarm(
        scope,
        "AbortCleanupFailedAlarm",
        alarm_name=name,
        alarm_description=(
            "The abort cleanup failed for an execution that was stopped, timed out or failed: "
            "its job or serving may still be billing. Each message in the dead-letter queue "
            "names the execution (detail.executionArn); run `bedrock-customize cleanup "
            "EXECUTION_ARN --dry-run`, then without --dry-run, and delete the message."
        ),
        metric=queue.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(5), statistic="Maximum"
        ),
        threshold=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    alarm.add_alarm_action(cw_actions.SnsAction(topic))
    _allow_on_key(key, "AllowAbortCleanupAlarmToPublish", "cloudwatch.amazonaws.com", alarm_arn)
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowAbortCleanupAlarm",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions=_from_source(scope, alarm_arn),
        )
    )
    return alarm
