"""Every use of the stack's key, as the service will ask for it, is allowed, and no other.

Each test describes a request as AWS presents it (who, which KMS action, which encryption
context or source) and evaluates the synthesized template's policies against it
(``tests/policy_eval.py``): Step Functions encrypting an execution, vended log delivery,
CloudWatch Logs, EventBridge writing to the dead-letter queue, the alarm publishing to the
encrypted topic, Lambda decrypting a function's environment. The same request for another
state machine, rule, alarm, function or account must be refused.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import FULL_CONTEXT, Synthesized
from tests.e2e.fake_bedrock import ACCOUNT, REGION
from tests.policy_eval import EXACT_OPERATORS, Policies, Request

STATES = "kms:EncryptionContext:aws:states:stateMachineArn"
LOG_SOURCE = "kms:EncryptionContext:SourceArn"
LOGS_ARN = "kms:EncryptionContext:aws:logs:arn"
LAMBDA_ARN = "kms:EncryptionContext:aws:lambda:FunctionArn"
PROVEN_CONTEXT_KEYS = {STATES, LOG_SOURCE, LOGS_ARN, LAMBDA_ARN}
OTHER_ACCOUNT = "210987654321"


@pytest.fixture(scope="module", params=["default", "full"])
def policies(request: Any, synthesized: Synthesized, synthesized_full: Synthesized) -> Policies:
    return Policies((synthesized if request.param == "default" else synthesized_full).template)


def _one(policies: Policies, resource_type: str) -> str:
    [logical_id] = policies.logical_ids(resource_type)
    return logical_id


def _key(policies: Policies) -> tuple[str, str]:
    key = _one(policies, "AWS::KMS::Key")
    return key, policies.resolve({"Fn::GetAtt": [key, "Arn"]})


def _state_machine(policies: Policies) -> tuple[str, str, str]:
    """(logical ID, ARN as the service presents it, role logical ID)."""
    machine = _one(policies, "AWS::StepFunctions::StateMachine")
    props = policies.resources[machine]["Properties"]
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{props['StateMachineName']}"
    role = props["RoleArn"]["Fn::GetAtt"][0]
    return machine, arn, role


def test_the_state_machine_is_encrypted_with_the_key_under_its_own_name(policies):
    machine, arn, _ = _state_machine(policies)
    _, key_arn = _key(policies)
    props = policies.resources[machine]["Properties"]
    assert policies.resolve(props["EncryptionConfiguration"]) == {
        "Type": "CUSTOMER_MANAGED_KMS_KEY",
        "KmsKeyId": key_arn,
        "KmsDataKeyReusePeriodSeconds": 300,
    }
    # What CloudFormation's Ref gives (and so the rule and every ARN built from the name).
    assert policies.resolve({"Ref": machine}) == arn


def test_a_name_given_by_context_is_the_one_every_condition_names(synthesized_full):
    """The full template names its state machine by context; the tests here run on it too."""
    _, arn, _ = _state_machine(Policies(synthesized_full.template))
    assert arn.endswith(f":stateMachine:{FULL_CONTEXT['stateMachineName']}")


@pytest.mark.parametrize("action", ["kms:GenerateDataKey", "kms:Decrypt"])
def test_the_state_machine_role_may_use_the_key_for_its_own_executions_only(policies, action):
    _, arn, role = _state_machine(policies)
    _, key_arn = _key(policies)

    def asks(context_arn: str) -> Request:
        return Request(action, key_arn, {STATES: context_arn}, role=role)

    assert policies.role_allows(asks(arn)), f"Step Functions could not {action} for {arn}"
    for other in (
        arn.rsplit(":", 1)[0] + ":",  # what CDK wrote with no name
        arn + "-other",
        arn.replace(ACCOUNT, OTHER_ACCOUNT),
    ):
        assert not policies.role_allows(asks(other)), other
    assert not policies.role_allows(Request(action, key_arn, {}, role=role))


def _log_groups(policies: Policies) -> list[str]:
    return policies.logical_ids("AWS::Logs::LogGroup")


def _log_group_arn(policies: Policies, logical_id: str) -> str:
    name = policies.resources[logical_id]["Properties"].get("LogGroupName")
    name = policies.resolve(name) if name else policies.resolver.physical_name(logical_id)
    return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"


def test_vended_log_delivery_may_use_the_key_for_this_accounts_logs(policies):
    """Step Functions' logs go through CloudWatch Logs' vended delivery: the role generates the
    data key with the log source as ``SourceArn`` (the documented value is the account's
    ``arn:aws:logs:<region>:<account>:*`` itself), and delivery decrypts for that source."""
    _, _, role = _state_machine(policies)
    key, key_arn = _key(policies)
    machine_logs = _log_group_arn(policies, _log_groups(policies)[0])
    for source in (f"arn:aws:logs:{REGION}:{ACCOUNT}:*", machine_logs + ":*"):
        generate = Request("kms:GenerateDataKey", key_arn, {LOG_SOURCE: source}, role=role)
        assert policies.role_allows(generate), source
        decrypt = Request(
            "kms:Decrypt",
            key_arn,
            {"aws:SourceArn": source, "aws:SourceAccount": ACCOUNT},
            service="delivery.logs.amazonaws.com",
        )
        assert policies.key_allows(key, decrypt), source
    foreign = f"arn:aws:logs:{REGION}:{OTHER_ACCOUNT}:*"
    assert not policies.role_allows(
        Request("kms:GenerateDataKey", key_arn, {LOG_SOURCE: foreign}, role=role)
    )
    for context in (
        {"aws:SourceArn": foreign, "aws:SourceAccount": OTHER_ACCOUNT},
        {"aws:SourceArn": machine_logs},  # no SourceAccount: refused
    ):
        request = Request("kms:Decrypt", key_arn, context, service="delivery.logs.amazonaws.com")
        assert not policies.key_allows(key, request), context


@pytest.mark.parametrize("action", ["kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"])
def test_cloudwatch_logs_may_use_the_key_for_every_log_group_of_the_stack(policies, action):
    key, key_arn = _key(policies)
    service = f"logs.{REGION}.amazonaws.com"
    groups = _log_groups(policies)
    assert groups
    for logical_id in groups:
        props = policies.resources[logical_id]["Properties"]
        assert policies.resolve(props["KmsKeyId"]) == key_arn, f"{logical_id} is not encrypted"
        arn = _log_group_arn(policies, logical_id)
        assert policies.key_allows(key, Request(action, key_arn, {LOGS_ARN: arn}, service=service))
    foreign = f"arn:aws:logs:{REGION}:{OTHER_ACCOUNT}:log-group:x"
    assert not policies.key_allows(
        key, Request(action, key_arn, {LOGS_ARN: foreign}, service=service)
    )


def _named(policies: Policies, resource_type: str, prop: str) -> str:
    [name] = [
        policies.resources[i]["Properties"][prop]
        for i in policies.logical_ids(resource_type)
        if prop in policies.resources[i]["Properties"]
    ]
    return str(name)


def _abort_rule(policies: Policies) -> tuple[str, str]:
    """``(logical ID, name)`` of the abort cleanup's rule (the job events' rule is the other;
    it has no dead-letter queue and no use of the key)."""
    [(logical_id, name)] = [
        (i, str(policies.resources[i]["Properties"]["Name"]))
        for i in policies.logical_ids("AWS::Events::Rule")
        if i.startswith("WorkflowAbortCleanupRule")
    ]
    return logical_id, name


@pytest.mark.parametrize("action", ["kms:GenerateDataKey", "kms:Decrypt"])
def test_eventbridge_may_use_the_key_for_the_abort_cleanup_rule_only(policies, action):
    key, key_arn = _key(policies)
    rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{_abort_rule(policies)[1]}"

    def asks(source: str, account: str = ACCOUNT) -> Request:
        context = {"aws:SourceArn": source, "aws:SourceAccount": account}
        return Request(action, key_arn, context, service="events.amazonaws.com")

    assert policies.key_allows(key, asks(rule))
    assert not policies.key_allows(key, asks(rule + "-other"))
    assert not policies.key_allows(key, asks(rule.replace(ACCOUNT, OTHER_ACCOUNT), OTHER_ACCOUNT))


def test_the_dead_letter_alarm_may_publish_to_the_encrypted_topic_and_no_other_alarm(policies):
    key, key_arn = _key(policies)
    # The dead-letter alarm (the monitoring alarms: tests/constructs/test_observability.py).
    [name] = [
        policies.resources[i]["Properties"]["AlarmName"]
        for i in policies.logical_ids("AWS::CloudWatch::Alarm")
        if i.startswith("WorkflowAbortCleanupFailedAlarm")
    ]
    alarm = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
    topic = _one(policies, "AWS::SNS::Topic")
    topic_arn = policies.resolve({"Ref": topic})
    topic_policy = [
        statement
        for logical_id in policies.logical_ids("AWS::SNS::TopicPolicy")
        for statement in policies.resolve(
            policies.resources[logical_id]["Properties"]["PolicyDocument"]
        )["Statement"]
    ]
    for source, allowed in ((alarm, True), (alarm + "-other", False)):
        context = {"aws:SourceArn": source, "aws:SourceAccount": ACCOUNT}
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            request = Request(action, key_arn, context, service="cloudwatch.amazonaws.com")
            assert bool(policies.key_allows(key, request)) is allowed, (source, action)
        publish = Request("sns:Publish", topic_arn, context, service="cloudwatch.amazonaws.com")
        assert bool(policies.allowing(publish, topic_policy)) is allowed, source


def _function_role(policies: Policies, handler: str) -> tuple[str, str]:
    for logical_id in policies.logical_ids("AWS::Lambda::Function"):
        props = policies.resources[logical_id]["Properties"]
        if props.get("Handler") == handler:
            return logical_id, props["Role"]["Fn::GetAtt"][0]
    raise AssertionError(f"no function with handler {handler}")


def test_the_abort_cleanup_may_read_executions_of_this_state_machine_only(policies):
    """DescribeExecution and GetExecutionHistory of an encrypted execution decrypt it."""
    _, arn, _ = _state_machine(policies)
    _, key_arn = _key(policies)
    _, role = _function_role(policies, "lambda_handlers.cleanup.abort_handler")
    assert policies.role_allows(Request("kms:Decrypt", key_arn, {STATES: arn}, role=role))
    assert not policies.role_allows(
        Request("kms:Decrypt", key_arn, {STATES: arn + "-other"}, role=role)
    )
    assert not policies.role_allows(
        Request("kms:GenerateDataKey", key_arn, {STATES: arn}, role=role)
    ), "the abort cleanup starts no execution"


def test_the_abort_cleanups_failures_go_to_the_dead_letter_queue_which_it_may_write(policies):
    function, role = _function_role(policies, "lambda_handlers.cleanup.abort_handler")
    queue = _one(policies, "AWS::SQS::Queue")
    queue_arn = policies.resolve({"Fn::GetAtt": [queue, "Arn"]})
    _, key_arn = _key(policies)
    [config] = [
        policies.resources[i]["Properties"]
        for i in policies.logical_ids("AWS::Lambda::EventInvokeConfig")
        if policies.resources[i]["Properties"]["FunctionName"] == {"Ref": function}
    ]
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [queue, "Arn"]}
    assert policies.role_allows(Request("sqs:SendMessage", queue_arn, role=role))
    via_sqs = {"kms:ViaService": f"sqs.{REGION}.amazonaws.com"}
    assert policies.role_allows(Request("kms:GenerateDataKey", key_arn, via_sqs, role=role))
    rule = _abort_rule(policies)[0]
    [target] = policies.resources[rule]["Properties"]["Targets"]
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [queue, "Arn"]}
    rule_arn = policies.resolve({"Fn::GetAtt": [rule, "Arn"]})
    queue_policy = [
        statement
        for guarded, statement in policies.resource_policy_statements()
        if policies.resources[guarded]["Type"] == "AWS::SQS::QueuePolicy"
    ]
    for source, allowed in ((rule_arn, True), (rule_arn + "-other", False)):
        send = Request(
            "sqs:SendMessage", queue_arn, {"aws:SourceArn": source}, service="events.amazonaws.com"
        )
        assert bool(policies.allowing(send, queue_policy)) is allowed, source
    [alarm] = [
        i
        for i in policies.logical_ids("AWS::CloudWatch::Alarm")
        if i.startswith("WorkflowAbortCleanupFailedAlarm")
    ]
    alarm_props = policies.resources[alarm]["Properties"]
    assert alarm_props["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}
    ]
    assert alarm_props["AlarmActions"] == [{"Ref": _one(policies, "AWS::SNS::Topic")}]


def test_every_function_decrypts_its_own_environment_only(policies):
    _, key_arn = _key(policies)
    functions = policies.logical_ids("AWS::Lambda::Function")
    via = {"kms:ViaService": f"lambda.{REGION}.amazonaws.com"}
    checked = 0
    for logical_id in functions:
        props = policies.resources[logical_id]["Properties"]
        if "KmsKeyArn" not in props:
            continue  # CDK's own helper functions hold no environment
        role = props["Role"]["Fn::GetAtt"][0]
        own = policies.resolve({"Fn::GetAtt": [logical_id, "Arn"]})
        other = next(
            policies.resolve({"Fn::GetAtt": [f, "Arn"]}) for f in functions if f != logical_id
        )
        assert policies.role_allows(
            Request("kms:Decrypt", key_arn, {**via, LAMBDA_ARN: own}, role=role)
        ), logical_id
        assert not policies.role_allows(
            Request("kms:Decrypt", key_arn, {**via, LAMBDA_ARN: other}, role=role)
        ), logical_id
        checked += 1
    assert checked >= 10


def test_no_condition_compares_a_wildcard_literally(policies):
    """``StringEquals``/``ArnEquals`` take ``*`` as a character: a pattern there never matches."""
    for statement in policies.all_statements():
        for operator, keys in statement.get("Condition", {}).items():
            if operator.split(":")[-1].removesuffix("IfExists") not in EXACT_OPERATORS:
                continue
            for key, values in keys.items():
                for value in values if isinstance(values, list) else [values]:
                    assert "*" not in str(value) and "?" not in str(value), (
                        f"{operator} {key} = {value!r} in {statement.get('Sid') or statement}"
                    )


def test_every_encryption_context_condition_is_one_a_test_here_presents(policies):
    """A context key no test above presents has not been shown to match what AWS sends."""
    seen = {
        key
        for statement in policies.all_statements()
        for keys in statement.get("Condition", {}).values()
        for key in keys
        if key.startswith("kms:EncryptionContext:")
    }
    assert seen <= PROVEN_CONTEXT_KEYS, seen - PROVEN_CONTEXT_KEYS
    assert {STATES, LOG_SOURCE, LOGS_ARN, LAMBDA_ARN} <= seen
