"""What the synthesized stack contains, asserted on the template."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk.assertions import Match, Template

from constructs_lib import CustomizationStorage, CustomizationWorkflow
from tests.conftest import Synthesized
from tests.e2e.harness import state_machine_definition


def statements_of(synthesized: Synthesized) -> list[dict[str, Any]]:
    out = []
    for resource in synthesized.template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy":
            out += resource["Properties"]["PolicyDocument"]["Statement"]
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                out += policy["PolicyDocument"]["Statement"]
    return out


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_stack_has_every_piece_the_issue_names(synthesized: Synthesized) -> None:
    counts = {
        t: len(synthesized.resources(t))
        for t in (
            "AWS::StepFunctions::StateMachine",
            "AWS::Lambda::Function",
            "AWS::S3::Bucket",
            "AWS::KMS::Key",
            "AWS::SNS::Topic",
            "AWS::Events::Rule",
            "AWS::SQS::Queue",
        )
    }
    assert counts == {
        "AWS::StepFunctions::StateMachine": 1,
        "AWS::Lambda::Function": 17,
        "AWS::S3::Bucket": 3,
        "AWS::KMS::Key": 1,
        "AWS::SNS::Topic": 1,
        "AWS::Events::Rule": 2,  # the abort cleanup's, the job events'
        "AWS::SQS::Queue": 1,
    }
    assert set(synthesized.template["Outputs"]) == {
        "StateMachineArn",
        "DataBucketName",
        "ArtifactsBucketName",
        "TopicArn",
        "ServiceRoleArn",
        "KeyArn",
    }


def test_the_key_rotates_and_is_kept(template: Template) -> None:
    template.has_resource(
        "AWS::KMS::Key",
        {
            "Properties": {"EnableKeyRotation": True},
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )


def test_data_and_artifacts_buckets_are_encrypted_with_the_key_versioned_private_and_logged(
    synthesized: Synthesized,
) -> None:
    [key_id] = synthesized.resources("AWS::KMS::Key")
    kms_buckets = []
    for logical_id, bucket in synthesized.resources("AWS::S3::Bucket").items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        rules = props["LifecycleConfiguration"]["Rules"]
        assert any(
            r.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays") == 90 for r in rules
        )
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ]
        if sse["SSEAlgorithm"] == "aws:kms":
            assert sse["KMSMasterKeyID"] == {"Fn::GetAtt": [key_id, "Arn"]}
            assert "LoggingConfiguration" in props
            kms_buckets.append(logical_id)
    assert len(kms_buckets) == 2


def test_every_bucket_denies_requests_without_tls(synthesized: Synthesized) -> None:
    policies = synthesized.resources("AWS::S3::BucketPolicy")
    assert len(policies) == 3
    for policy in policies.values():
        denies = [
            s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"
        ]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_the_service_role_trusts_bedrock_for_this_accounts_jobs_only(template: Template) -> None:
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"Service": "bedrock.amazonaws.com"},
                        "Condition": {
                            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                            "ArnLike": {
                                "aws:SourceArn": {
                                    "Fn::Join": [
                                        "",
                                        [
                                            "arn:",
                                            {"Ref": "AWS::Partition"},
                                            ":bedrock:",
                                            {"Ref": "AWS::Region"},
                                            ":",
                                            {"Ref": "AWS::AccountId"},
                                            ":model-customization-job/*",
                                        ],
                                    ]
                                }
                            },
                        },
                    }
                ]
            },
        },
    )


def test_the_service_role_reads_data_writes_output_and_nothing_more(
    synthesized: Synthesized,
) -> None:
    [policy] = [
        p
        for k, p in synthesized.resources("AWS::IAM::Policy").items()
        if k.startswith("BedrockServiceRole")
    ]
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert set(statements) == {
        "ReadTrainingData",
        "ListTrainingData",
        "WriteJobOutput",
        "ListJobOutput",
        "UseKeyThroughS3AndBedrock",
    }
    read = json.dumps(statements["ReadTrainingData"]["Resource"])
    assert "/training/*" in read and "/validation/*" in read
    assert statements["WriteJobOutput"]["Action"] == ["s3:GetObject", "s3:PutObject"]
    assert "/customization-jobs/*" in json.dumps(statements["WriteJobOutput"]["Resource"])
    assert statements["ListTrainingData"]["Condition"]["StringLike"]["s3:prefix"] == [
        "training/*",
        "validation/*",
        "test/*",
    ]


def test_no_policy_grants_a_star_resource_except_where_the_api_requires_it(
    synthesized: Synthesized,
) -> None:
    # X-Ray and CloudWatch Logs delivery accept no resource ARN.
    star_ok = {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
        # List actions: no resource-level permissions.
        "bedrock:ListModelInvocationJobs",
        "bedrock:ListInferenceProfiles",
    }
    offenders = []
    for statement in statements_of(synthesized):
        if "*" in as_list(statement["Resource"]):
            actions = set(as_list(statement["Action"]))
            if not actions <= star_ok:
                offenders.append(statement)
    assert offenders == []


def test_bedrock_permissions_name_resources_of_this_account(synthesized: Synthesized) -> None:
    for statement in statements_of(synthesized):
        actions = as_list(statement["Action"])
        if any(a.startswith("bedrock:") for a in actions):
            if statement["Resource"] == "*":
                # Only list actions, which take no resource ARN, may go with '*'.
                assert {a for a in actions if a.startswith("bedrock:")} <= {
                    "bedrock:ListModelInvocationJobs",
                    "bedrock:ListInferenceProfiles",
                }
                continue
            for resource in as_list(statement["Resource"]):
                text = json.dumps(resource)
                assert ":bedrock:" in text and (
                    "AWS::AccountId" in text or "foundation-model/" in text
                ), text


def test_only_the_submit_function_may_pass_the_service_role_and_only_to_bedrock(
    synthesized: Synthesized,
) -> None:
    passing = [s for s in statements_of(synthesized) if "iam:PassRole" in as_list(s["Action"])]
    # Three roles are passed, each to its one service: Bedrock's customization role (by
    # submit), the batch-evaluation role (by prepare), the scheduler's (for expiry).
    services = sorted(s["Condition"]["StringEquals"]["iam:PassedToService"] for s in passing)
    assert services == ["bedrock.amazonaws.com", "bedrock.amazonaws.com", "scheduler.amazonaws.com"]
    [service_role] = [
        k
        for k, r in synthesized.resources("AWS::IAM::Role").items()
        if "model-customization-job" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])
    ]
    passing_service_role = [s for s in passing if service_role in json.dumps(s["Resource"])]
    assert len(passing_service_role) == 1


def test_functions_run_python_with_tracing_json_logs_and_the_layer(
    synthesized: Synthesized,
) -> None:
    handlers = set()
    for function in synthesized.resources("AWS::Lambda::Function").values():
        props = function["Properties"]
        assert props["Runtime"] == "python3.14"
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["LoggingConfig"]["LogFormat"] == "JSON"
        assert len(props["Layers"]) == 1
        handlers.add(props["Handler"])
    assert handlers == {
        f"lambda_handlers.{h}"
        for h in (
            "validate_request.handler",
            "submit_job.handler",
            "check_job.handler",
            "job_events.park_handler",
            "job_events.relay_handler",
            "sweep_winner.handler",
            "start_serving.handler",
            "check_serving.handler",
            "cleanup.handler",
            "notify.handler",
            "cleanup.abort_handler",
            "schedule_expiry.handler",
            "evaluate_model.handler",
            "promote.start_handler",
            "promote.check_handler",
            "batch_evaluation.prepare_handler",
            "batch_evaluation.check_handler",
        )
    }


def test_log_groups_are_encrypted_with_the_key(synthesized: Synthesized) -> None:
    [key_id] = synthesized.resources("AWS::KMS::Key")
    groups = synthesized.resources("AWS::Logs::LogGroup")
    assert len(groups) == 18  # one per function and the state machine's
    for group in groups.values():
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}


def test_the_state_machine_logs_everything_traces_and_is_encrypted(template: Template) -> None:
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "LoggingConfiguration": {
                "Level": "ALL",
                "IncludeExecutionData": True,
                "Destinations": Match.any_value(),
            },
            "TracingConfiguration": {"Enabled": True},
            "EncryptionConfiguration": {
                "Type": "CUSTOMER_MANAGED_KMS_KEY",
                "KmsKeyId": Match.any_value(),
                "KmsDataKeyReusePeriodSeconds": Match.any_value(),
            },
        },
    )


def test_the_topic_is_encrypted_with_the_key(template: Template, synthesized: Synthesized) -> None:
    [key_id] = synthesized.resources("AWS::KMS::Key")
    template.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
    )


def test_stopped_or_timed_out_executions_go_to_cleanup(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.states"],
                "detail-type": ["Step Functions Execution Status Change"],
                "detail": {
                    "status": ["ABORTED", "TIMED_OUT", "FAILED"],
                    "stateMachineArn": [Match.any_value()],
                },
            },
            "Targets": [
                Match.object_like(
                    {
                        "DeadLetterConfig": Match.any_value(),
                        "RetryPolicy": {
                            "MaximumRetryAttempts": 8,
                            "MaximumEventAgeInSeconds": 7200,
                        },
                    }
                )
            ],
        },
    )


# -- the state machine definition ------------------------------------------------------------------


@pytest.fixture(scope="module")
def definition(synthesized: Synthesized) -> dict[str, Any]:
    return state_machine_definition(synthesized.template)


def test_definition_starts_with_validation_and_has_an_execution_timeout(
    definition: dict[str, Any],
) -> None:
    assert definition["StartAt"] == "Validate request"
    assert definition["TimeoutSeconds"] == 7 * 24 * 3600


def test_polling_waits_five_minutes_for_jobs_and_one_for_serving_then_backs_off(
    definition: dict[str, Any], synthesized: Synthesized
) -> None:
    # Each loop waits what its handler says: the first interval, doubling up to the cap.
    for wait, path in (
        ("Wait for job", "$.job.pollSeconds"),
        ("Wait for serving", "$.serving.pollSeconds"),
        ("Wait for batch evaluation", "$.evaluationPrep.pollSeconds"),
        ("Wait for promotion", "$.promotion.pollSeconds"),
    ):
        assert definition["States"][wait]["SecondsPath"] == path, wait
        assert "Seconds" not in definition["States"][wait]
    for function in synthesized.resources("AWS::Lambda::Function").values():
        variables = function["Properties"]["Environment"]["Variables"]
        if "DATA_BUCKET" not in variables:
            continue  # a grader
        assert (variables["JOB_POLL_SECONDS"], variables["JOB_POLL_MAX_SECONDS"]) == ("300", "900")
        assert (variables["SERVING_POLL_SECONDS"], variables["SERVING_POLL_MAX_SECONDS"]) == (
            "60",
            "600",
        )


FOLLOWERS = {
    "Check job status",
    "Check serving status",
    "Check batch evaluation",
    "Check promotion",
}
TRANSIENT = {
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "BedrockThrottled",
    "BedrockUnavailable",
    "ServiceUnreachable",
}


TIMEOUTS = {"Sandbox.Timedout", "Lambda.Unknown", "States.Timeout"}


def _retried(task: dict[str, Any]) -> set[str]:
    return {e for r in task["Retry"] for e in r["ErrorEquals"]}


def test_every_task_retries_throttling_5xx_the_network_and_a_throttled_invocation(
    definition: dict[str, Any],
) -> None:
    tasks = {n: s for n, s in definition["States"].items() if s["Type"] == "Task"}
    assert len(tasks) == 16  # at the top level; a sweep's run tasks are inside its Map
    for name, task in tasks.items():
        assert _retried(task) >= TRANSIENT, name
        if name in FOLLOWERS:
            continue
        [retry] = [r for r in task["Retry"] if "BedrockThrottled" in r["ErrorEquals"]]
        assert retry == {
            "ErrorEquals": ["BedrockThrottled", "BedrockUnavailable", "ServiceUnreachable"],
            "IntervalSeconds": 5,
            "MaxAttempts": 6,
            "BackoffRate": 2,
            "MaxDelaySeconds": 120,
            "JitterStrategy": "FULL",
        }, name


def test_following_retries_every_transient_failure_for_six_hours(
    definition: dict[str, Any],
) -> None:
    for name in FOLLOWERS:
        [retry] = definition["States"][name]["Retry"]
        assert set(retry["ErrorEquals"]) == TRANSIENT | TIMEOUTS
        delays, delay = [], retry["IntervalSeconds"]
        for _ in range(retry["MaxAttempts"]):
            delays.append(min(delay, retry["MaxDelaySeconds"]))
            delay *= retry["BackoffRate"]
        assert 6 * 3600 <= sum(delays) < 6 * 3600 + 300, name
        assert "JitterStrategy" not in retry, "the bound is meant to hold"


def test_a_timeout_is_retried_only_where_a_repeat_is_safe(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert "Sandbox.Timedout" not in _retried(states["Validate request"]), (
        "Validate's time is the data's size"
    )
    for name in ("Submit customization job", "Start serving", "Clean up", "Notify failure"):
        assert _retried(states[name]) >= TIMEOUTS, name
    for name, state in states.items():
        if state["Type"] == "Task":
            assert state["TimeoutSeconds"] >= 90, name


def test_validation_errors_are_never_retried(definition: dict[str, Any]) -> None:
    never = {
        "RequestInvalid",
        "BedrockRequestRejected",
        "AccessDenied",
        "JobNameTaken",
        "CustomizationJobFailed",
        "CustomizationJobStopped",
        "ServingFailed",
        "States.ALL",
        "States.TaskFailed",
    }
    for state in definition["States"].values():
        for retry in state.get("Retry", []):
            assert not never & set(retry["ErrorEquals"]), retry


def test_submit_waits_out_role_propagation_and_quota(definition: dict[str, Any]) -> None:
    retries = {
        r["ErrorEquals"][0]: r for r in definition["States"]["Submit customization job"]["Retry"]
    }
    assert retries["ServiceRoleNotReady"]["MaxAttempts"] == 6
    assert retries["QuotaExceeded"]["IntervalSeconds"] == 600


def test_every_task_after_validation_fails_into_cleanup(definition: dict[str, Any]) -> None:
    for name, state in definition["States"].items():
        if state["Type"] != "Task" or name in {
            "Validate request",
            "Clean up",
            "Notify failure",
            "Notify success",
        }:
            continue
        if name in ("Check job status", "Wait for job event"):
            continue
        assert state["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Clean up"}
        ], name
    # Only the job's own outcome cleans up; failing to follow it, for any reason, leaves it be.
    assert definition["States"]["Check job status"]["Catch"] == [
        {
            "ErrorEquals": [
                "CustomizationJobFailed",
                "CustomizationJobStopped",
                "QualityGateFailed",
            ],
            "ResultPath": "$.error",
            "Next": "Clean up",
        },
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.unreachable", "Next": "Job left running"},
    ]
    assert definition["States"]["Job left running"]["Next"] == "Notify failure"
    # The wait for the job's event: every failure there falls back to a poll of the job,
    # which then fails into cleanup as above; its timeout is the safety poll.
    assert [c["Next"] for c in definition["States"]["Wait for job event"]["Catch"]] == [
        "Safety poll",
        "Wait for job",
    ]
    assert definition["States"]["Notify success"]["Catch"] == [
        {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": "$.notificationError",
            "Next": "Customization succeeded",
        }
    ]
    assert definition["States"]["Clean up"]["Next"] == "Notify failure"
    assert definition["States"]["Notify failure"]["Next"] == "Customization failed"
    assert definition["States"]["Customization failed"] == {
        "Type": "Fail",
        "ErrorPath": "$.error.Error",
        "CausePath": "$.error.Cause",
    }


# -- props are checked when the construct is built -----------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data_prefixes": ["/training"]}, "data_prefixes must be a key prefix"),
        ({"data_prefixes": ["training"]}, "data_prefixes must be a key prefix"),
        ({"output_prefix": "out/*"}, "output_prefix must be a key prefix"),
        ({"data_prefixes": []}, "data_prefixes must name at least one prefix"),
    ],
)
def test_storage_rejects_bad_prefixes(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception, match=message):
        CustomizationStorage(Stack(App()), "Storage", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"enabled_customization_types": ["DPO"]},
            r"enabled_customization_types: \['DPO'\] not supported by this prop",
        ),
        ({"enabled_customization_types": []}, "must name at least one type"),
        (
            {"job_poll_interval": Duration.seconds(1)},
            "job_poll_interval must be at least 10 seconds, got 1",
        ),
    ],
)
def test_workflow_rejects_bad_props(kwargs: dict[str, Any], message: str) -> None:
    from aws_cdk import aws_sns as sns

    from constructs_lib import BedrockServiceRole

    stack = Stack(App())
    storage = CustomizationStorage(stack, "Storage")
    role = BedrockServiceRole(stack, "Role", storage=storage)
    topic = sns.Topic(stack, "Topic")
    with pytest.raises(Exception, match=message):
        CustomizationWorkflow(
            stack, "Workflow", storage=storage, service_role=role, topic=topic, **kwargs
        )


def test_the_layer_and_the_code_fit_lambdas_unzipped_limit(synthesized: Synthesized) -> None:
    def size(path: Path) -> int:
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())

    def asset_dir(s3_key: str) -> str:
        return "asset." + s3_key.removesuffix(".zip")

    function = next(iter(synthesized.resources("AWS::Lambda::Function").values()))
    code_asset = asset_dir(function["Properties"]["Code"]["S3Key"])
    [layer] = synthesized.resources("AWS::Lambda::LayerVersion").values()
    layer_asset = asset_dir(layer["Properties"]["Content"]["S3Key"])
    total = size(synthesized.outdir / code_asset) + size(synthesized.outdir / layer_asset)
    assert total < 250 * 1024 * 1024, f"{total / 1e6:.0f} MB unzipped"
    assert (synthesized.outdir / layer_asset / "python" / "msgspec").is_dir()
    assert (
        synthesized.outdir / code_asset / "lambda_handlers" / "validation" / "engine.py"
    ).is_file()
    assert not list((synthesized.outdir / code_asset).glob("tests")), (
        "only the handlers are shipped"
    )
    assert not (synthesized.outdir / code_asset / "lambda_handlers" / "cli").exists(), (
        "the command line is not shipped to Lambda"
    )


def test_abort_cleanup_outwaits_the_tasks_that_create_billable_resources(
    synthesized: Synthesized,
) -> None:
    functions = {
        f["Properties"]["Handler"].removeprefix("lambda_handlers."): f["Properties"]
        for f in synthesized.resources("AWS::Lambda::Function").values()
    }
    abort = functions["cleanup.abort_handler"]
    wait = int(abort["Environment"]["Variables"]["STRAGGLER_WAIT_SECONDS"])
    creators = [
        functions[h]["Timeout"]
        for h in (
            "submit_job.handler",
            "start_serving.handler",
            "batch_evaluation.prepare_handler",
            "promote.start_handler",
        )
    ]
    assert wait > max(creators), (
        "a task still running at the stop has finished before the second pass"
    )
    assert abort["Timeout"] >= wait + 60, "and the abort cleanup has time left for that pass"
