"""CDK constructs for Amazon Bedrock model customization.

Each construct is usable on its own; ``BedrockCustomizationStack`` composes them.
"""

from constructs_lib.grader import GraderSpec, RftGrader
from constructs_lib.notifications import CustomizationNotifications
from constructs_lib.service_role import BedrockServiceRole
from constructs_lib.stack import BedrockCustomizationStack
from constructs_lib.steps.job_events import EVENT_DRIVEN, POLLING, JobCompletion
from constructs_lib.steps.promotion import PromotionTargets
from constructs_lib.steps.request import SpendingLimits
from constructs_lib.storage import CustomizationStorage
from constructs_lib.workflow import CustomizationWorkflow

__all__ = [
    "EVENT_DRIVEN",
    "POLLING",
    "BedrockCustomizationStack",
    "BedrockServiceRole",
    "CustomizationNotifications",
    "CustomizationStorage",
    "CustomizationWorkflow",
    "GraderSpec",
    "JobCompletion",
    "PromotionTargets",
    "RftGrader",
    "SpendingLimits",
]
