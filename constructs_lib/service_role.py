"""The IAM role that Bedrock assumes to run customization jobs."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_lib.nag import acknowledge, arn, attr_ref
from constructs_lib.steps.permissions import destination_regions, profile_invoke_arns
from constructs_lib.storage import CustomizationStorage


def bedrock_principal(stack: Stack, source_arn_pattern: str) -> iam.ServicePrincipal:
    """Bedrock, only on behalf of this account and only for the jobs matching the pattern."""
    return iam.ServicePrincipal(
        "bedrock.amazonaws.com",
        conditions={
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": source_arn_pattern},
        },
    )


def _bucket_ref(bucket: s3.IBucket) -> str:
    """cdk-nag's rendering of a bucket ARN: a GetAtt for a bucket of this stack, else the ARN."""
    if bucket.node.default_child is not None:
        return attr_ref(bucket)
    return arn(bucket, "s3", bucket.bucket_name)


def _job_statements(
    storage: CustomizationStorage, extra_data_buckets: Sequence[s3.IBucket], stack: Stack
) -> list[iam.PolicyStatement]:
    """What a customization job does: read the data, write its output, use the key."""
    data = storage.data_bucket
    artifacts = storage.artifacts_bucket
    statements = [
        iam.PolicyStatement(
            sid="ReadTrainingData",
            actions=["s3:GetObject"],
            resources=storage.data_object_arns()
            + [b.arn_for_objects("*") for b in extra_data_buckets],
        ),
        iam.PolicyStatement(
            sid="ListTrainingData",
            actions=["s3:ListBucket"],
            resources=[data.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in storage.data_prefixes]}},
        ),
        iam.PolicyStatement(
            sid="WriteJobOutput",
            actions=["s3:GetObject", "s3:PutObject"],
            resources=[artifacts.arn_for_objects(f"{storage.output_prefix}*")],
        ),
        iam.PolicyStatement(
            sid="ListJobOutput",
            actions=["s3:ListBucket"],
            resources=[artifacts.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{storage.output_prefix}*"]}},
        ),
        iam.PolicyStatement(
            sid="UseKeyThroughS3AndBedrock",
            actions=[
                "kms:Decrypt",
                "kms:GenerateDataKey",
                "kms:DescribeKey",
                "kms:CreateGrant",
            ],
            resources=[storage.key.key_arn],
            conditions={
                "StringEquals": {
                    "kms:ViaService": [
                        f"s3.{stack.region}.amazonaws.com",
                        f"bedrock.{stack.region}.amazonaws.com",
                    ]
                }
            },
        ),
    ]
    if extra_data_buckets:
        statements.append(
            iam.PolicyStatement(
                sid="ListExtraData",
                actions=["s3:ListBucket"],
                resources=[b.bucket_arn for b in extra_data_buckets],
            )
        )
    return statements


class BedrockServiceRole(Construct):
    """Bedrock's service role for model customization jobs of this account and Region.

    Trusted by ``bedrock.amazonaws.com`` only, and only for customization jobs of this
    account (``aws:SourceAccount``) and Region (``aws:SourceArn``). It may read the data
    prefixes (and ``extra_data_buckets`` in full), write under the output prefix, and
    use the stack's key through S3 and Bedrock; nothing more.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        storage: CustomizationStorage,
        extra_data_buckets: Sequence[s3.IBucket] = (),
    ) -> None:
        """
        :param storage: the stack's storage; its data prefixes, output prefix and key.
        :param extra_data_buckets: other buckets with training data that Bedrock may
            read in full. Default: none, only the data bucket's prefixes.
        """
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.job_arn_pattern = stack.format_arn(
            service="bedrock", resource="model-customization-job", resource_name="*"
        )
        self.role = iam.Role(
            self,
            "Role",
            description="Assumed by Amazon Bedrock to run this stack's model customization jobs",
            assumed_by=bedrock_principal(stack, self.job_arn_pattern),
        )
        statements = _job_statements(storage, extra_data_buckets, stack)
        policy = iam.Policy(self, "Policy", statements=statements)
        policy.attach_to_role(self.role)
        acknowledge(
            policy,
            "IAM5",
            "Object ARNs end in '<prefix>*': Bedrock reads the dataset a request names under the data prefixes "
            "and writes job output under keys it chooses below the output prefix.",
            findings=[
                f"Resource::{attr_ref(storage.data_bucket)}/{p}*" for p in storage.data_prefixes
            ]
            + [f"Resource::{attr_ref(storage.artifacts_bucket)}/{storage.output_prefix}*"]
            + [f"Resource::{_bucket_ref(b)}/*" for b in extra_data_buckets],
        )

    def allow_distillation(self, invocation_logs: Sequence[tuple[s3.IBucket, str]] = ()) -> None:
        """What distillation adds: invoking the supported teachers, and reading invocation logs.

        Teachers come from ``lambda_handlers/data/distillation.json``: each teacher's
        foundation model in this Region, and for a cross-Region inference profile the
        profile in this account and the foundation model in each Region it routes to. Log
        locations: ``(bucket, key prefix)``, read-only.
        """
        from lambda_handlers.validation.distillation import raw_data, teachers

        stack = Stack.of(self)
        profiles = raw_data()["inferenceProfiles"]
        arns: list[str] = []
        for teacher in teachers().values():
            if teacher.invocation != "inference-profile":
                arns.append(
                    stack.format_arn(
                        service="bedrock",
                        account="",
                        resource="foundation-model",
                        resource_name=teacher.model_id,
                    )
                )
            for profile in teacher.inference_profiles if teacher.invocation != "on-demand" else ():
                entry = profiles[profile]
                arns += profile_invoke_arns(
                    stack, profile, entry["model"], destination_regions(entry["destinationRegions"])
                )
        statements = [
            iam.PolicyStatement(
                sid="InvokeTeacherModels",
                actions=["bedrock:InvokeModel"],
                resources=sorted(set(arns), key=str),
            )
        ]
        for i, (bucket, prefix) in enumerate(invocation_logs):
            statements += [
                iam.PolicyStatement(
                    sid=f"ReadInvocationLogs{i}",
                    actions=["s3:GetObject"],
                    resources=[bucket.arn_for_objects(f"{prefix}*")],
                ),
                iam.PolicyStatement(
                    sid=f"ListInvocationLogs{i}",
                    actions=["s3:ListBucket"],
                    resources=[bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
                ),
            ]
        policy = iam.Policy(self, "DistillationPolicy", statements=statements)
        policy.attach_to_role(self.role)
        if invocation_logs:
            acknowledge(
                policy,
                "IAM5",
                "Bedrock reads the invocation-log objects under the granted prefix; their keys carry "
                "dates and ids that Bedrock's log delivery chooses.",
                findings=[f"Resource::{_bucket_ref(b)}/{p}*" for b, p in invocation_logs],
            )

    @property
    def role_arn(self) -> str:
        return self.role.role_arn

    def grant_pass_role(self, grantee: iam.IGrantable) -> None:
        """Let ``grantee`` pass this role to Bedrock (and to no other service)."""
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["iam:PassRole"],
            resource_arns=[self.role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
        )
