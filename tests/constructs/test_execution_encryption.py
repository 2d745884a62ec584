"""The state machine's name and the key permissions that name it, on bare stacks (fast)."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs_lib.execution_encryption import grant_executions, state_machine_arn
from constructs_lib.workflow_props import derive_state_machine_name
from tests.e2e.fake_bedrock import ACCOUNT, REGION
from tests.policy_eval import Policies, Request

STATES = "kms:EncryptionContext:aws:states:stateMachineArn"


def _stack(name: str = "BedrockCustomization") -> cdk.Stack:
    return cdk.Stack(cdk.App(), name, env=cdk.Environment(account=ACCOUNT, region=REGION))


def test_the_default_name_comes_from_the_stack():
    assert derive_state_machine_name(_stack("Team-A"), None) == "Team-A-customization"


def test_a_long_stack_name_is_cut_to_80_with_a_digest_so_two_stay_two():
    one = derive_state_machine_name(_stack("A" * 100 + "x"), None)
    two = derive_state_machine_name(_stack("A" * 100 + "y"), None)
    assert len(one) == len(two) == 80
    assert one != two and one.endswith("-customization")


def test_a_given_name_is_kept_and_a_bad_one_refused_with_what_is_allowed():
    stack = _stack()
    assert derive_state_machine_name(stack, "ml-platform_runs") == "ml-platform_runs"
    for bad in ("", "has space", "x" * 81, "dots.are.not.allowed", cdk.Aws.STACK_NAME):
        with pytest.raises(ValueError, match="state_machine_name must be 1-80 letters"):
            derive_state_machine_name(stack, bad)


@pytest.mark.parametrize("start", [True, False])
def test_a_grantee_may_use_the_key_for_that_state_machines_executions_only(start):
    stack = _stack()
    key = kms.Key(stack, "Key")
    role = iam.Role(stack, "Operator", assumed_by=iam.AccountRootPrincipal())
    grant_executions(role, key, stack, "runs", start=start)
    template = cdk.assertions.Template.from_stack(stack).to_json()
    policies = Policies(template)
    [role_id] = policies.logical_ids("AWS::IAM::Role")
    [key_id] = policies.logical_ids("AWS::KMS::Key")
    key_arn = policies.resolve({"Fn::GetAtt": [key_id, "Arn"]})
    arn = policies.resolve(stack.resolve(state_machine_arn(stack, "runs")))
    assert arn == f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:runs"

    def allowed(action: str, context_arn: str) -> bool:
        request = Request(action, key_arn, {STATES: context_arn}, role=role_id)
        return bool(policies.role_allows(request))

    assert allowed("kms:Decrypt", arn)
    assert allowed("kms:GenerateDataKey", arn) is start
    assert not allowed("kms:Decrypt", arn.replace(":runs", ":other"))
