"""A dashboard and alarms for the customization workflow, published to the stack's topic.

What the dashboard shows: executions by outcome and their durations (``AWS/States``, the
state machine's ``StateMachineArn``), and the handlers' own metrics (namespace
``BedrockCustomization``, dimension ``service`` = the stack's name;
``lambda_handlers/common/observability.py``): jobs, validation findings, the evaluation's
scores and gain, serving started and removed.

Alarms, each with the stack's topic as action:

- executions that failed or timed out (``ExecutionsFailed`` + ``ExecutionsTimedOut``);
- a cleanup that left something behind (``CleanupLeftovers``: each problem it reports, a job
  left running on purpose);
- serving alive past its time-to-live (``ServingPastTimeToLive``: the scheduled cleanup at the
  end of ``timeToLiveHours`` could not remove it, or failed);
- a provisioned throughput with no invocation for ``idle_throughput_hours``: its ARN exists
  only at run time, so Start serving creates that alarm itself (``AWS/Bedrock``
  ``Invocations`` by ``ModelId``; ``lambda_handlers/common/idle_alarm.py``) under a name
  prefix this construct grants, and cleanup deletes it.

The topic is encrypted with the stack's key: CloudWatch may use the key, and publish to the
topic, for these alarms only (their ARNs, and the idle alarms' prefix).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from constructs_lib.nag import account_arn, acknowledge
from constructs_lib.steps.dead_letters import _allow_on_key, _from_source
from lambda_handlers.common import idle_alarm
from lambda_handlers.common import observability as emitted

DEFAULT_IDLE_THROUGHPUT_HOURS = 6
_PERIOD = Duration.minutes(5)
_GRAPH_PERIOD = Duration.hours(1)


def _checked_idle_hours(hours: int | None) -> int | None:
    if hours is None or Token.is_unresolved(hours):
        return hours
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= 24:
        raise ValueError(
            f"idle_throughput_hours: expected a whole number of hours from 1 to 24 (one-hour "
            f"periods, at most a day of them), or None for no idle alarm; got {hours!r}"
        )
    return hours


@dataclass(frozen=True)
class MonitoringOptions:
    """What ``CustomizationMonitoring`` creates."""

    dashboard: bool = True
    """A dashboard. Default: true (a few dollars a month beyond CloudWatch's free three)."""
    alarms: bool = True
    """The alarms. Default: true (each costs cents a month)."""
    idle_throughput_hours: int | None = DEFAULT_IDLE_THROUGHPUT_HOURS
    """With ``alarms``, a provisioned throughput with no invocation for this many whole hours
    (1 to 24) alarms; ``None``: no idle alarm. Default: 6, a working day's gap in requests,
    long before a month's bill."""


FULL_MONITORING = MonitoringOptions()
"""The dashboard, the alarms, and idle alarms after 6 hours."""


class CustomizationMonitoring(Construct):
    """The workflow's dashboard and alarms.

    Attributes: ``dashboard`` (or ``None``), ``alarms`` (by name: ``failed_executions``,
    ``cleanup_leftovers``, ``serving_past_time_to_live``), ``idle_alarm_prefix`` (the name
    prefix of the alarms Start serving creates, or ``None``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine: sfn.IStateMachine,
        functions: dict[str, lambda_.Function],
        topic: sns.ITopic,
        key: kms.IKey,
        options: MonitoringOptions = FULL_MONITORING,
    ) -> None:
        """
        :param state_machine: the workflow's state machine.
        :param functions: the workflow's functions by step (``CustomizationWorkflow.functions``):
            ``start_serving`` creates the idle alarms, ``cleanup`` and ``abort_cleanup``
            delete them.
        :param topic: where alarms publish (the stack's topic).
        :param key: the topic's key.
        :param options: dashboard, alarms, idle hours (``MonitoringOptions``). Default: all.
        """
        super().__init__(scope, construct_id)
        self._stack = Stack.of(self)
        self._state_machine = state_machine
        self._topic = topic
        self._key = key
        hours = _checked_idle_hours(options.idle_throughput_hours)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self.idle_alarm_prefix: str | None = None
        if options.alarms:
            self._static_alarms()
            if hours is not None:
                self._idle_alarms(functions, hours)
        self.dashboard = self._dashboard() if options.dashboard else None

    # -- metrics ---------------------------------------------------------------------------

    def custom_metric(
        self, name: str, statistic: str = "Sum", period: Duration = _GRAPH_PERIOD
    ) -> cloudwatch.Metric:
        """One of the handlers' metrics (``lambda_handlers/common/observability.py``)."""
        return cloudwatch.Metric(
            namespace=emitted.NAMESPACE,
            metric_name=name,
            dimensions_map={emitted.DIMENSION: self._stack.stack_name},
            statistic=statistic,
            period=period,
        )

    def _executions(self, period: Duration) -> dict[str, cloudwatch.Metric]:
        sm = self._state_machine
        return {
            "succeeded": sm.metric_succeeded(period=period, statistic="Sum", label="Succeeded"),
            "failed": sm.metric_failed(period=period, statistic="Sum", label="Failed"),
            "timed_out": sm.metric_timed_out(period=period, statistic="Sum", label="Timed out"),
            "aborted": sm.metric_aborted(period=period, statistic="Sum", label="Aborted"),
        }

    # -- alarms ----------------------------------------------------------------------------

    def _alarm_name(self, what: str) -> str:
        return f"{self._stack.stack_name}-{what}"

    def _alarm_arn(self, name: str) -> str:
        return self._stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name=name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def _allow_alarm(self, sid: str, alarm_arn: str) -> None:
        """CloudWatch may publish to the topic, through its key, for ``alarm_arn`` only: an ARN,
        or an ARN pattern (compared with ``ArnLike``: ``ArnEquals`` takes ``*`` literally)."""
        if "*" in alarm_arn:
            conditions = {
                "StringEquals": {"aws:SourceAccount": self._stack.account},
                "ArnLike": {"aws:SourceArn": alarm_arn},
            }
            self._key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"Allow{sid}AlarmToPublish",
                    principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=["*"],  # a key policy's resource is always the key itself
                    conditions=conditions,
                )
            )
        else:
            conditions = _from_source(self, alarm_arn)
            _allow_on_key(
                self._key, f"Allow{sid}AlarmToPublish", "cloudwatch.amazonaws.com", alarm_arn
            )
        self._topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"Allow{sid}Alarm",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self._topic.topic_arn],
                conditions=conditions,
            )
        )

    def _alarm(
        self, key: str, sid: str, metric: cloudwatch.IMetric, description: str
    ) -> cloudwatch.Alarm:
        name = self._alarm_name(key.replace("_", "-"))
        alarm = cloudwatch.Alarm(
            self,
            f"{sid}Alarm",
            alarm_name=name,
            alarm_description=description,
            metric=metric,
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self._topic))
        self._allow_alarm(sid, self._alarm_arn(name))
        self.alarms[key] = alarm
        return alarm

    def _static_alarms(self) -> None:
        runs = self._executions(_PERIOD)
        self._alarm(
            "failed_executions",
            "FailedExecutions",
            cloudwatch.MathExpression(
                expression="FILL(failed, 0) + FILL(timed_out, 0)",
                using_metrics={"failed": runs["failed"], "timed_out": runs["timed_out"]},
                label="Executions failed or timed out",
                period=_PERIOD,
            ),
            "An execution of the customization workflow failed or timed out. The topic's "
            "FAILED / TIMED_OUT message names it and what its cleanup removed.",
        )
        self._alarm(
            "cleanup_leftovers",
            "CleanupLeftovers",
            self.custom_metric(emitted.CLEANUP_LEFTOVERS, period=_PERIOD),
            "A cleanup left something behind: a job, batch job or serving it could not stop or "
            "delete, one under this execution's name that is not its own, or a job left running "
            "because it could not be read. The topic's message for that execution names each, "
            "with the command that removes it.",
        )
        self._alarm(
            "serving_past_time_to_live",
            "ServingPastTimeToLive",
            self.custom_metric(emitted.SERVING_PAST_TIME_TO_LIVE, "Maximum", period=_PERIOD),
            "Serving outlived its time-to-live: the scheduled cleanup could not delete the "
            "provisioned throughput or deployment (it is retried for a day). It bills until "
            "removed: bedrock-customize cleanup EXECUTION_ARN.",
        )

    def _idle_alarms(self, functions: dict[str, lambda_.Function], hours: int) -> None:
        """Start serving may create, and the cleanups delete, alarms of one name prefix whose
        only action is the stack's topic."""
        prefix = self._alarm_name("idle-throughput-")
        self.idle_alarm_prefix = prefix
        pattern = self._alarm_arn(f"{prefix}*")
        environment = {
            idle_alarm.HOURS_ENV: str(hours),
            idle_alarm.PREFIX_ENV: prefix,
        }
        creates = functions["start_serving"]
        deletes = [functions[k] for k in ("cleanup", "abort_cleanup") if k in functions]
        for function in [creates, *deletes]:
            for name, value in environment.items():
                function.add_environment(name, value)
        creates.add_to_role_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricAlarm"],
                resources=[pattern],
                conditions={
                    "ForAllValues:StringEquals": {
                        "cloudwatch:AlarmActions": [self._topic.topic_arn]
                    }
                },
            )
        )
        # PutMetricAlarm with Tags needs TagResource too (the API reference says so).
        creates.add_to_role_policy(
            iam.PolicyStatement(actions=["cloudwatch:TagResource"], resources=[pattern])
        )
        for function in deletes:
            function.add_to_role_policy(
                iam.PolicyStatement(actions=["cloudwatch:DeleteAlarms"], resources=[pattern])
            )
        for function in [creates, *deletes]:
            assert function.role is not None
            acknowledge(
                function.role,
                "IAM5",
                "Idle alarms are named at run time after the provisioned throughput they watch; "
                f"the ARN allows only this Region and account's alarms named '{prefix}...'.",
                findings=[
                    f"Resource::{account_arn(function.role, 'cloudwatch', f'alarm:{prefix}*')}"
                ],
            )
        self._allow_alarm("IdleThroughput", pattern)

    # -- dashboard -------------------------------------------------------------------------

    def _dashboard(self) -> cloudwatch.Dashboard:
        widgets = [self._runs_row(), self._work_row(), self._results_row()]
        if self.alarms:
            alarms = list(self.alarms.values())
            widgets.append([cloudwatch.AlarmStatusWidget(title="Alarms", alarms=alarms, width=24)])
        return cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{self._stack.stack_name}-{self._stack.region}",
            widgets=widgets,
        )

    def _runs_row(self) -> list[cloudwatch.IWidget]:
        """Executions by outcome and their duration."""
        sm = self._state_machine
        return [
            cloudwatch.GraphWidget(
                title="Executions by outcome",
                left=list(self._executions(_GRAPH_PERIOD).values()),
                stacked=True,
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Execution duration (ms)",
                left=[
                    sm.metric_time(period=_GRAPH_PERIOD, statistic="Average", label="Average"),
                    sm.metric_time(period=_GRAPH_PERIOD, statistic="Maximum", label="Longest"),
                ],
                width=12,
            ),
        ]

    def _work_row(self) -> list[cloudwatch.IWidget]:
        """Jobs and training-data validation."""
        count = self.custom_metric
        return [
            cloudwatch.GraphWidget(
                title="Customization jobs",
                left=[
                    count(emitted.JOBS_SUBMITTED),
                    count(emitted.JOBS_COMPLETED),
                    count(emitted.JOBS_FAILED),
                    count(emitted.JOBS_STOPPED),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Training-data validation findings",
                left=[count(emitted.VALIDATION_ERRORS), count(emitted.VALIDATION_WARNINGS)],
                width=12,
            ),
        ]

    def _results_row(self) -> list[cloudwatch.IWidget]:
        """The evaluation's gain and scores; serving started and removed."""
        count = self.custom_metric
        started = count(emitted.SERVING_STARTED, period=Duration.days(1))
        removed = count(emitted.SERVING_REMOVED, period=Duration.days(1))
        return [
            cloudwatch.GraphWidget(
                title="Evaluation: gain over the base model",
                left=[count(emitted.EVALUATION_GAIN, "Average")],
                right=[
                    count(emitted.EVALUATION_BASE_SCORE, "Average"),
                    count(emitted.EVALUATION_CUSTOM_SCORE, "Average"),
                ],
                width=12,
            ),
            cloudwatch.SingleValueWidget(
                title="Serving started and removed in this time range (the difference is "
                "still alive, when the range covers the oldest)",
                metrics=[
                    started,
                    removed,
                    cloudwatch.MathExpression(
                        expression="FILL(started, 0) - FILL(removed, 0)",
                        using_metrics={"started": started, "removed": removed},
                        label="Started minus removed",
                        period=Duration.days(1),
                    ),
                ],
                set_period_to_time_range=True,
                width=12,
            ),
        ]
