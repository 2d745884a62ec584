"""The state machine's executions and logs, encrypted with the stack's key.

CDK's ``CustomerManagedEncryptionConfiguration`` writes the key permissions itself, and two of
them cannot work or say too much: the role's encryption context names
``...:stateMachine:`` with no name unless the state machine has one, the log-delivery
condition compares a ``*`` with ``StringEquals`` (a literal match), and the key trusts
``delivery.logs.amazonaws.com`` with no condition. So the encryption is set on the
CloudFormation resource and every permission is written here, each with the condition the
service's request will carry:

- Step Functions encrypts and decrypts execution data as the state machine's role, under the
  encryption context ``aws:states:stateMachineArn`` = the state machine's ARN.
- CloudWatch Logs' vended delivery writes the execution logs: the role may generate a data
  key for a log source of this account and Region (``kms:EncryptionContext:SourceArn``), and
  ``delivery.logs.amazonaws.com`` may decrypt for this account's log sources only.
- Whoever starts or reads executions (the abort cleanup, ``grant_start``) uses the key under
  the same state machine encryption context.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn

STATES_CONTEXT = "kms:EncryptionContext:aws:states:stateMachineArn"
LOG_SOURCE_CONTEXT = "kms:EncryptionContext:SourceArn"
DATA_KEY_REUSE_SECONDS = 300


def state_machine_arn(stack: Stack, name: str) -> str:
    """The ARN a state machine of that name will have: known before it exists, and free of
    references to it (a key policy may hold it without a dependency cycle)."""
    return stack.format_arn(
        service="states",
        resource="stateMachine",
        resource_name=name,
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def log_sources(stack: Stack) -> str:
    """Every CloudWatch Logs ARN of this account and Region: what vended log delivery names as
    its source. A pattern, so it is compared with ``ArnLike``."""
    return f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:*"


def encrypt(state_machine: sfn.StateMachine, key: kms.IKey, name: str) -> None:
    """Encrypt ``state_machine`` (named ``name``) with ``key``; its role may use the key for
    its own executions and its logs only."""
    stack = Stack.of(state_machine)
    resource = state_machine.node.default_child
    assert isinstance(resource, sfn.CfnStateMachine)
    resource.encryption_configuration = sfn.CfnStateMachine.EncryptionConfigurationProperty(
        type="CUSTOMER_MANAGED_KMS_KEY",
        kms_key_id=key.key_arn,
        kms_data_key_reuse_period_seconds=DATA_KEY_REUSE_SECONDS,
    )
    grant_executions(state_machine.role, key, stack, name, start=True)
    state_machine.role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["kms:GenerateDataKey"],
            resources=[key.key_arn],
            conditions={"ArnLike": {LOG_SOURCE_CONTEXT: log_sources(stack)}},
        )
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowLogDeliveryOfThisAccount",
            principals=[iam.ServicePrincipal("delivery.logs.amazonaws.com")],
            actions=["kms:Decrypt"],
            resources=["*"],  # a key policy's resource is always the key itself
            conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnLike": {"aws:SourceArn": log_sources(stack)},
            },
        )
    )


def grant_executions(
    grantee: iam.IGrantable, key: kms.IKey, stack: Stack, name: str, *, start: bool = False
) -> iam.Grant:
    """Let ``grantee`` read (``kms:Decrypt``) and, with ``start``, write
    (``kms:GenerateDataKey``) the data of the executions of the state machine ``name``."""
    return iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["kms:Decrypt", *(["kms:GenerateDataKey"] if start else [])],
        resource_arns=[key.key_arn],
        conditions={"StringEquals": {STATES_CONTEXT: state_machine_arn(stack, name)}},
    )
