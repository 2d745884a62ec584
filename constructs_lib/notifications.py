"""The SNS topic where the workflow publishes outcomes."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct


class CustomizationNotifications(Construct):
    """A KMS-encrypted topic that accepts only TLS publishers.

    Each message has a short text body for email and a JSON body (``version``,
    ``outcome``, ``executionArn``, ``jobArn``, ``customModelArn``, ``serving``,
    ``error``, ``cleanup``) for SQS, Lambda and HTTPS subscribers, and an ``outcome``
    message attribute to filter on.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, key: kms.IKey, emails: Sequence[str] = ()
    ) -> None:
        """
        :param key: encrypts messages at rest.
        :param emails: addresses to subscribe. Default: none (subscribe later).
        """
        super().__init__(scope, construct_id)
        for email in emails:
            if "@" not in email or email.startswith("@") or email.endswith("@"):
                raise ValueError(f"emails: {email!r} is not an email address")
        self.topic = sns.Topic(
            self, "Topic", display_name="Bedrock customization", master_key=key, enforce_ssl=True
        )
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

    def grant_subscribe(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` subscribe to outcomes."""
        return self.topic.grant_subscribe(grantee)
