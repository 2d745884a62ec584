"""Structured logging for every handler (Powertools Logger).

Each handler logs with the execution ARN as correlation id, so one execution's lines
can be found across functions in CloudWatch Logs Insights.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="bedrock-customize")
