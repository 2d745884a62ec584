"""Python Lambda functions for the handlers, built without Docker.

The handler code is the ``lambda_handlers`` package as it is in this repository. Its
run-time dependencies (``lambda_handlers/requirements.txt``) go into one layer, built
by ``pip install --platform`` for the Lambda runtime and architecture, and cached by
the requirements' digest so repeated syntheses do not download them again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import jsii
from aws_cdk import (
    AssetHashType,
    BundlingOptions,
    DockerImage,
    Duration,
    ILocalBundling,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from constructs_lib.nag import acknowledge

REPO_ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO_ROOT / "lambda_handlers" / "requirements.txt"
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
# Lambda's Python 3.14 runtime runs on Amazon Linux 2023 (glibc 2.34): both tags install.
_PIP_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
_PYTHON_VERSION = "3.14"


def _layer_digest() -> str:
    text = REQUIREMENTS.read_text("utf-8")
    return hashlib.sha256(f"{text}|{_PIP_PLATFORMS}|{_PYTHON_VERSION}".encode()).hexdigest()


def cache_root() -> Path:
    """Where built artifacts (the layer, test tools) are cached across syntheses and runs."""
    return Path(
        os.environ.get("BEDROCK_CUSTOMIZE_CACHE", Path.home() / ".cache" / "bedrock-customize")
    )


def build_layer(output_dir: Path) -> None:
    """Install the handlers' requirements for the Lambda platform into ``output_dir/python``."""
    cached = cache_root() / f"layer-{_layer_digest()[:16]}"
    if not (cached / ".complete").exists():
        staging = cached.with_name(f"{cached.name}.tmp-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-compile",
                "--target",
                str(staging / "python"),
                *(arg for platform in _PIP_PLATFORMS for arg in ("--platform", platform)),
                "--implementation",
                "cp",
                "--python-version",
                _PYTHON_VERSION,
                "--only-binary=:all:",
                "-r",
                str(REQUIREMENTS),
            ],
            check=True,
        )
        (staging / ".complete").write_text("ok")
        shutil.rmtree(cached, ignore_errors=True)
        staging.rename(cached)
    shutil.copytree(cached / "python", output_dir / "python", dirs_exist_ok=True)


@jsii.implements(ILocalBundling)
class _PipLayerBundling:
    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:
        build_layer(Path(output_dir))
        return True


class WorkflowFunctions(Construct):
    """Shared layer and code for the workflow's functions, and a factory for them.

    Every function gets its own role (no AWS managed policy), its own KMS-encrypted log
    group with JSON logs, X-Ray tracing, ARM64 and the same environment, encrypted at rest
    with the stack's key.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        environment: Mapping[str, str],
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        log_level: str = "INFO",
    ) -> None:
        """
        :param key: encrypts the functions' log groups and environment variables.
        :param environment: environment variables of every function.
        :param log_retention: how long function logs are kept. Default: three months.
        :param log_level: Powertools log level. Default: INFO.
        """
        super().__init__(scope, construct_id)
        self._key = key
        self._powertools = {
            "POWERTOOLS_SERVICE_NAME": "bedrock-customize",
            "POWERTOOLS_LOG_LEVEL": log_level,
        }
        self._environment = {**environment, **self._powertools}
        self._log_retention = log_retention
        self.layer = lambda_.LayerVersion(
            self,
            "Dependencies",
            description="boto3, pydantic and Powertools for the customization handlers",
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            code=lambda_.Code.from_asset(
                str(REQUIREMENTS.parent / "data"),
                asset_hash_type=AssetHashType.CUSTOM,
                asset_hash=_layer_digest(),
                bundling=BundlingOptions(
                    image=DockerImage.from_registry("no-docker-needed"),
                    local=_PipLayerBundling(),  # type: ignore[arg-type]  # jsii.implements is invisible to mypy
                ),
            ),
        )
        self.code = lambda_.Code.from_asset(
            str(REPO_ROOT),
            # The handlers only: the command line (lambda_handlers/cli) runs on a workstation.
            exclude=[
                "*",
                "!lambda_handlers",
                "!lambda_handlers/**",
                "lambda_handlers/cli",
                "**/__pycache__",
                "**/*.pyc",
            ],
        )

    def function(
        self,
        construct_id: str,
        *,
        handler: str,
        description: str,
        timeout: Duration = Duration.seconds(30),
        memory_size: int = 256,
        scope: Construct | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> lambda_.Function:
        """A function running ``lambda_handlers.<handler>``.

        ``scope``: where the function goes in the construct tree (default: here);
        ``environment``: replaces the shared environment (Powertools settings stay).
        """
        scope = scope or self
        log_group = logs.LogGroup(
            scope,
            f"{construct_id}Logs",
            encryption_key=self._key,
            retention=self._log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            scope,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{construct_id}: {description}"[:1000],
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            )
        )
        env = (
            dict(self._environment) if environment is None else {**environment, **self._powertools}
        )
        function = lambda_.Function(
            scope,
            construct_id,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=f"lambda_handlers.{handler}",
            code=self.code,
            layers=[self.layer],
            role=role,
            timeout=timeout,
            memory_size=memory_size,
            environment=env,
            environment_encryption=self._key,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            tracing=lambda_.Tracing.ACTIVE,
        )
        self._allow_environment_decryption(scope, construct_id, function, role)
        acknowledge(
            role,
            "IAM5",
            "Active tracing adds xray:PutTraceSegments and xray:PutTelemetryRecords, which support no "
            "resource-level permissions: the X-Ray API requires Resource '*'.",
            findings=["Resource::*"],
        )
        return function

    def _allow_environment_decryption(
        self, scope: Construct, construct_id: str, function: lambda_.Function, role: iam.Role
    ) -> None:
        """Let the function's role decrypt its own environment variables, and nothing else.

        With a customer managed key, Lambda decrypts the environment when it starts an
        execution environment, with the execution role's credentials: without ``kms:Decrypt``
        on the key the function cannot start (``KMSAccessDeniedException``). Scoped to calls
        through Lambda in this Region for this function's encryption context. A policy of its
        own: in the role's default policy, which the function depends on, the function's ARN
        would make a dependency cycle.
        """
        iam.Policy(
            scope,
            f"{construct_id}EnvironmentDecryption",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="DecryptOwnEnvironment",
                    actions=["kms:Decrypt"],
                    resources=[self._key.key_arn],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": f"lambda.{Stack.of(scope).region}.amazonaws.com"
                        },
                        # The function, unqualified or any version or alias of it.
                        "ArnLike": {
                            "kms:EncryptionContext:aws:lambda:FunctionArn": [
                                function.function_arn,
                                f"{function.function_arn}:*",
                            ]
                        },
                    },
                )
            ],
        )
