"""Storage: the stack's KMS key and its data, artifacts and access-log buckets."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_lib.nag import acknowledge, acknowledge_checkov, attr_ref
from lambda_handlers.common.job_waits import WAITS_PREFIX as JOB_WAITS_PREFIX

DEFAULT_DATA_PREFIXES = ("training/", "validation/", "test/")
DEFAULT_OUTPUT_PREFIX = "customization-jobs/"
REPORTS_PREFIX = "reports/"


def _check_prefix(prop: str, value: str) -> None:
    if not value or value.startswith("/") or not value.endswith("/") or "*" in value:
        raise ValueError(
            f"{prop} must be a key prefix such as 'training/' (no leading '/', ending in '/', no '*'), got {value!r}"
        )


class CustomizationStorage(Construct):
    """A customer-managed KMS key and the buckets of the workflow.

    - ``data_bucket``: training, validation and test JSONL under ``data_prefixes``.
    - ``artifacts_bucket``: Bedrock's job output under ``output_prefix``, and reports.
    - ``log_bucket``: server access logs of both (SSE-S3, the only encryption S3
      server access logging can write to).

    All block public access, deny requests without TLS, keep versions and expire
    old ones after ``noncurrent_version_retention``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey | None = None,
        data_prefixes: Sequence[str] = DEFAULT_DATA_PREFIXES,
        output_prefix: str = DEFAULT_OUTPUT_PREFIX,
        noncurrent_version_retention: Duration = Duration.days(90),
        access_log_retention: Duration = Duration.days(365),
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        """
        :param key: KMS key for everything the stack stores. Default: a new key with
            yearly rotation, retained on stack deletion so data stays readable.
        :param data_prefixes: prefixes of the data bucket that Bedrock and the
            validator may read. Default: ``training/``, ``validation/``, ``test/``.
        :param output_prefix: prefix of the artifacts bucket that Bedrock may write.
            Default: ``customization-jobs/``.
        :param noncurrent_version_retention: how long overwritten or deleted object
            versions are kept. Default: 90 days, enough to recover from a mistake.
        :param access_log_retention: how long access logs are kept. Default: 365 days.
        :param removal_policy: what happens to the buckets when the stack is deleted.
            Default: RETAIN, training data and model output are not thrown away.
        """
        super().__init__(scope, construct_id)
        # Access logs are delivered under a bucket policy, not the legacy ACL, whatever the app's flags.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        for prefix in data_prefixes:
            _check_prefix("data_prefixes", prefix)
        _check_prefix("output_prefix", output_prefix)
        if not data_prefixes:
            raise ValueError("data_prefixes must name at least one prefix, got an empty list")
        self.data_prefixes = tuple(data_prefixes)
        self.output_prefix = output_prefix
        self.reports_prefix = REPORTS_PREFIX

        self.key: kms.IKey = key or kms.Key(
            self,
            "Key",
            description="Bedrock customization: data, artifacts, logs, notifications",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        if isinstance(self.key, kms.Key):
            self._allow_cloudwatch_logs(self.key)
        lifecycle = [
            s3.LifecycleRule(
                id="ExpireOldVersions",
                noncurrent_version_expiration=noncurrent_version_retention,
                abort_incomplete_multipart_upload_after=Duration.days(7),
            )
        ]
        self.log_bucket = self._log_bucket(lifecycle, access_log_retention, removal_policy)
        self.data_bucket = self._bucket("Data", "data/", lifecycle, removal_policy)
        self.artifacts_bucket = self._bucket("Artifacts", "artifacts/", lifecycle, removal_policy)
        # Task tokens of executions waiting for their job (``lambda_handlers/common/job_waits.py``):
        # useless once the execution ends, gone long after any execution's timeout.
        self.artifacts_bucket.add_lifecycle_rule(
            id="ExpireJobWaits", prefix=JOB_WAITS_PREFIX, expiration=Duration.days(30)
        )

    def _allow_cloudwatch_logs(self, key: kms.Key) -> None:
        """CloudWatch Logs encrypts the workflow's log groups with this key."""
        stack = Stack.of(self)
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsOfThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],  # a key policy's resource is always the key itself
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*"
                    }
                },
            )
        )

    def _log_bucket(
        self,
        lifecycle: list[s3.LifecycleRule],
        retention: Duration,
        removal_policy: RemovalPolicy,
    ) -> s3.Bucket:
        """Server access logs of the other buckets (SSE-S3: all that log delivery can write)."""
        log_bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[*lifecycle, s3.LifecycleRule(id="ExpireLogs", expiration=retention)],
            removal_policy=removal_policy,
        )
        itself = "This is the access-log bucket itself; logging it into itself would loop."
        acknowledge(log_bucket, "S1", itself)
        acknowledge_checkov(log_bucket, "CKV_AWS_18", itself)
        return log_bucket

    def _bucket(
        self,
        construct_id: str,
        log_prefix: str,
        lifecycle: list[s3.LifecycleRule],
        removal_policy: RemovalPolicy,
    ) -> s3.Bucket:
        """A private, versioned bucket encrypted with the key, logged to the log bucket."""
        return s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix=log_prefix,
            lifecycle_rules=lifecycle,
            removal_policy=removal_policy,
        )

    def _grant_key_through_s3(self, grantee: iam.IGrantable, action: str) -> None:
        """Use of the key for S3 objects only (``kms:ViaService`` S3 of this Region)."""
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[action],
            resource_arns=[self.key.key_arn],
            conditions={
                "StringEquals": {"kms:ViaService": f"s3.{Stack.of(self).region}.amazonaws.com"}
            },
        )

    def data_object_arns(self) -> list[str]:
        """ARNs of the objects under every data prefix."""
        return [self.data_bucket.arn_for_objects(f"{p}*") for p in self.data_prefixes]

    def grant_read_data(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read (and decrypt, through S3 only) the objects under the data prefixes."""
        self._grant_key_through_s3(grantee, "kms:Decrypt")
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["s3:GetObject"], resource_arns=self.data_object_arns()
        )

    def grant_write_data(self, grantee: iam.IGrantable) -> None:
        """Upload datasets under the data prefixes."""
        for prefix in self.data_prefixes:
            self.data_bucket.grant_put(grantee, f"{prefix}*")

    def grant_write_reports(self, grantee: iam.IGrantable) -> iam.Grant:
        """Write reports (data validation, evaluation) under the reports prefix."""
        return self._grant_write_artifacts(grantee, self.reports_prefix)

    def grant_read_reports(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read and list (and decrypt, through S3 only) the reports under the reports prefix."""
        return self._grant_read_artifacts(grantee, self.reports_prefix)

    def grant_job_waits(self, grantee: iam.IGrantable, *, write: bool) -> None:
        """Park task tokens (``write``), or read them under ``job-waits/``, listing one when S3
        answers 403, so that a token that is not there is told from a refusal."""
        acknowledge(
            grantee.grant_principal,  # type: ignore[arg-type]  # the function's role
            "IAM5",
            "The task tokens of waiting executions, one object per job, named from the job's "
            "ARN when the job exists: the job-waits/ prefix of the artifacts bucket only.",
            findings=[f"Resource::{attr_ref(self.artifacts_bucket)}/{JOB_WAITS_PREFIX}*"],
        )
        if write:
            self._grant_write_artifacts(grantee, JOB_WAITS_PREFIX)
        else:
            self._grant_read_artifacts(grantee, JOB_WAITS_PREFIX)

    def _grant_write_artifacts(self, grantee: iam.IGrantable, prefix: str) -> iam.Grant:
        """Put objects under ``prefix`` of the artifacts bucket (encrypting through S3 only)."""
        self._grant_key_through_s3(grantee, "kms:GenerateDataKey")
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:PutObject"],
            resource_arns=[self.artifacts_bucket.arn_for_objects(f"{prefix}*")],
        )

    def _grant_read_artifacts(self, grantee: iam.IGrantable, prefix: str) -> iam.Grant:
        """Read and list the objects under ``prefix`` of the artifacts bucket (decrypting
        through S3 only)."""
        self._grant_key_through_s3(grantee, "kms:Decrypt")
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:GetObject"],
            resource_arns=[self.artifacts_bucket.arn_for_objects(f"{prefix}*")],
        )
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:ListBucket"],
            resource_arns=[self.artifacts_bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        )

    def grant_read_artifacts(self, grantee: iam.IGrantable) -> None:
        """Read job output and reports."""
        self.artifacts_bucket.grant_read(grantee)
