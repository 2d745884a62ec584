"""A reward function (grader) for reinforcement fine-tuning.

Bedrock calls the grader Lambda during training with a batch of generated responses
and uses the scores it returns as rewards. Bring your own function, or deploy one of
the built-in graders from ``lambda_handlers/graders/``. Only Bedrock, for customization
jobs of this account and Region, may invoke it; the service role is allowed to invoke
exactly this function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aws_cdk import Duration, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from constructs_lib.functions import WorkflowFunctions
from constructs_lib.nag import acknowledge
from constructs_lib.nag import arn as nag_arn

# Built-in graders: handler, timeout, memory. A batch per call; the judge waits on a model.
BUILTIN_GRADERS: dict[str, tuple[str, Duration, int]] = {
    "reference-match": ("graders.reference_match.handler", Duration.minutes(1), 512),
    "format": ("graders.format_check.handler", Duration.minutes(1), 512),
    "preference": ("graders.preference.handler", Duration.minutes(1), 512),
    "judge": ("graders.judge.handler", Duration.minutes(5), 512),
}
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class GraderSpec:
    """A grader for ``CustomizationWorkflow(graders=[...])``: a built-in or your own function.

    ``builtin``: reference-match, format, preference or judge; ``function``: your own;
    ``name``: what requests call it (default: the built-in's name);
    ``judge_model_id``: the model the judge asks; ``environment``: extra grader settings.
    """

    builtin: str | None = None
    function: lambda_.IFunction | None = None
    name: str | None = None
    judge_model_id: str | None = None
    environment: dict[str, str] = field(default_factory=dict)


_PROFILE = re.compile(r"^(us|eu|apac|us-gov|jp|au|ca|global)\.(?P<model>.+)$")


def _allow_judge(function: lambda_.Function, model_id: str, stack: Stack) -> None:
    """The judge may call its model only: a foundation model of this Region, or a
    cross-Region inference profile and the model it routes to, in any Region it picks."""
    if model_id.startswith("arn:") or Token.is_unresolved(model_id):
        resources = [model_id]
    elif match := _PROFILE.match(model_id):
        resources = [
            stack.format_arn(
                service="bedrock", resource="inference-profile", resource_name=model_id
            ),
            f"arn:{stack.partition}:bedrock:*::foundation-model/{match.group('model')}",
        ]
        acknowledge(
            function.role or function,
            "IAM5",
            "A cross-Region inference profile routes the judge's call to the same model in a Region "
            "it chooses; the foundation-model ARN names the model and leaves the Region open.",
            findings=[
                f"Resource::{nag_arn(function, 'bedrock', 'foundation-model/' + match.group('model'), region='*')}"
            ],
        )
    else:
        resources = [
            stack.format_arn(
                service="bedrock", account="", resource="foundation-model", resource_name=model_id
            )
        ]
    function.add_to_role_policy(
        iam.PolicyStatement(actions=["bedrock:InvokeModel"], resources=resources)
    )


class RftGrader(Construct):
    """A grader Lambda that Bedrock may invoke for this stack's RFT jobs.

    Attributes: ``name`` (what requests call it in ``rftConfig.grader``), ``function``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: WorkflowFunctions,
        builtin: str | None = None,
        function: lambda_.IFunction | None = None,
        name: str | None = None,
        judge_model_id: str | None = None,
        environment: dict[str, str] | None = None,
    ) -> None:
        """
        :param functions: the shared layer and code (``CustomizationWorkflow.functions_factory``).
        :param builtin: a built-in grader: reference-match, format, preference or judge.
        :param function: your own grader function instead of a built-in one.
        :param name: what requests call this grader. Default: the built-in's name, or the
            construct id in lower case for your own function.
        :param judge_model_id: the model the judge grader asks (required for ``judge``), e.g.
            ``amazon.nova-pro-v1:0``; its role may invoke that model only.
        :param environment: extra settings of a built-in grader (e.g. ``JUDGE_RUBRIC``).
        """
        super().__init__(scope, construct_id)
        if (builtin is None) == (function is None):
            raise ValueError("RftGrader: give exactly one of builtin or function")
        if builtin is not None and builtin not in BUILTIN_GRADERS:
            raise ValueError(
                f"RftGrader: builtin {builtin!r} is not one of {', '.join(BUILTIN_GRADERS)}"
            )
        if builtin == "judge" and not judge_model_id:
            raise ValueError(
                "RftGrader: the judge grader needs judge_model_id (the model that scores)"
            )
        self.name = name or builtin or construct_id.lower()
        if not _NAME.match(self.name):
            raise ValueError(
                f"RftGrader: name {self.name!r} must be lower-case letters, digits and '-'"
            )
        stack = Stack.of(self)

        if builtin is not None:
            handler, timeout, memory = BUILTIN_GRADERS[builtin]
            env = dict(environment or {})
            if judge_model_id:
                env["JUDGE_MODEL_ID"] = judge_model_id
            created = functions.function(
                "Function",
                handler=handler,
                description=f"RFT grader {self.name}: scores a batch of responses for Bedrock",
                timeout=timeout,
                memory_size=memory,
                scope=self,
                environment=env,
            )
            if judge_model_id:
                _allow_judge(created, judge_model_id, stack)
            self.function: lambda_.IFunction = created
        else:
            assert function is not None
            self.function = function

        job_arns = stack.format_arn(
            service="bedrock", resource="model-customization-job", resource_name="*"
        )
        self.function.add_permission(
            "InvokeFromBedrockJobs",
            principal=iam.ServicePrincipal("bedrock.amazonaws.com"),
            action="lambda:InvokeFunction",
            source_account=stack.account,
            source_arn=job_arns,
        )

    @property
    def function_arn(self) -> str:
        return self.function.function_arn

    def grant_invoke_to_service_role(self, role: iam.IRole) -> None:
        """Let Bedrock's service role invoke this grader, and nothing else."""
        policy = iam.Policy(
            self,
            "ServiceRoleMayInvoke",
            statements=[
                iam.PolicyStatement(
                    actions=["lambda:InvokeFunction"], resources=[self.function_arn]
                )
            ],
        )
        policy.attach_to_role(role)
