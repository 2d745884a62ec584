"""How the base model answers for evaluation: its invocation id, resolved at run time.

Some base models cannot be invoked on demand by their foundation-model id (Llama 3.2,
Llama 3.3 70B, Nova 2 Lite: ``Converse`` answers ``ValidationException`` "Invocation of
model ID ... with on-demand throughput isn't supported"); they answer through a
system-defined inference profile. The service says which: ``GetFoundationModel`` gives
``inferenceTypesSupported`` (``ON_DEMAND``, ``INFERENCE_PROFILE``, ``PROVISIONED``; the
service model's enum lists only the first and last, the service also answers the second),
and ``ListInferenceProfiles(typeEquals="SYSTEM_DEFINED")`` the profiles with the models each
routes to. A profile of the Region's own geography is preferred (``us.`` in us-east-1),
then ``global.``, then any other.

The stack may invoke only the profiles and destination Regions listed in
``lambda_handlers/data/inference_profiles.json`` (the same file its IAM is built from), so
``invocation_problems`` refuses, before anything is paid for, a profile the stack was not
built to call. Sources: that file, and ``shared/bedrock-facts.md`` ("Invoking a base model
on demand").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common.catalogue import inference_model_id
from lambda_handlers.common.errors import error_code, translate_client_error

_FOUNDATION_MODEL_ARN = re.compile(
    r"^arn:[^:]+:bedrock:(?P<region>[^:]*)::foundation-model/(?P<id>.+)$"
)
_NOT_A_MODEL_HERE = {"ResourceNotFoundException", "ValidationException"}


class CannotInvoke(Exception):
    """The base model has no way to answer on demand in this Region; the message says why."""


@dataclass(frozen=True)
class BaseInvocation:
    """What Converse and a batch job take as ``modelId`` for the base model, and why."""

    model_id: str
    """The foundation model as invoked (``meta.llama3-2-1b-instruct-v1:0``)."""
    invoke_id: str
    """The model id itself, or the inference profile's id."""
    profile_id: str | None
    destination_regions: tuple[str, ...]
    """Where the calls may run: this Region, or the profile's destinations."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "modelId": self.model_id,
            "invokeId": self.invoke_id,
            "profileId": self.profile_id,
            "destinationRegions": list(self.destination_regions),
        }


@cache
def profile_data() -> dict[str, Any]:
    """``lambda_handlers/data/inference_profiles.json``."""
    text = resources.files("lambda_handlers").joinpath("data/inference_profiles.json").read_text()
    return dict(json.loads(text))


def granted_profiles() -> dict[str, dict[str, Any]]:
    """Profile id -> ``{"model", "regions"}``: what the stack's IAM lets the functions invoke
    (every destination Region of every source Region)."""
    return {
        profile_id: {
            "model": entry["model"],
            "regions": sorted({r for rs in entry["destinationRegions"].values() for r in rs}),
        }
        for profile_id, entry in profile_data()["profiles"].items()
    }


def geography(region: str) -> str | None:
    """The profile id prefix of ``region``'s geography (``us`` for us-east-1), if known."""
    for prefix, name in profile_data()["geographies"].items():
        if region.startswith(prefix):
            return str(name)
    return None


def resolve(bedrock: Any, identifier: str, region: str) -> BaseInvocation:
    """The base model's invocation id in ``region``; raises ``CannotInvoke`` with the reason.

    ``identifier`` is the request's ``baseModelIdentifier`` (a customizable id such as
    ``amazon.nova-lite-v1:0:300k``, or a foundation-model ARN); the model invoked is its
    on-demand id (``inference_model_id``). AWS errors other than "no such model" are
    translated into the workflow's errors.
    """
    model_id = inference_model_id(identifier)
    try:
        details = bedrock.get_foundation_model(modelIdentifier=model_id)["modelDetails"]
    except ClientError as error:
        if error_code(error) in _NOT_A_MODEL_HERE:
            message = error.response.get("Error", {}).get("Message", "")
            raise CannotInvoke(
                f"{model_id} is not a foundation model in {region}: {message}"
            ) from error
        raise translate_client_error(error, f"GetFoundationModel {model_id}") from error
    supported = list(details.get("inferenceTypesSupported") or [])
    if "ON_DEMAND" in supported:
        return BaseInvocation(model_id, model_id, None, (region,))
    profiles = _profiles_containing(bedrock, model_id)
    if not profiles:
        raise CannotInvoke(
            f"{model_id} cannot be invoked on demand in {region} (inferenceTypesSupported: "
            f"{', '.join(supported) or 'none'}) and no system-defined inference profile contains it"
        )
    chosen = _preferred(profiles, region)
    regions = sorted(
        {m.group("region") for m in map(_FOUNDATION_MODEL_ARN.match, _model_arns(chosen)) if m}
    )
    profile_id = str(chosen["inferenceProfileId"])
    return BaseInvocation(model_id, profile_id, profile_id, tuple(regions))


def _model_arns(profile: dict[str, Any]) -> list[str]:
    return [str(m.get("modelArn", "")) for m in profile.get("models", [])]


def _profiles_containing(bedrock: Any, model_id: str) -> list[dict[str, Any]]:
    """The active system-defined profiles that route to ``model_id``."""
    found = []
    try:
        pages = bedrock.get_paginator("list_inference_profiles").paginate(
            typeEquals="SYSTEM_DEFINED"
        )
        for page in pages:
            for profile in page.get("inferenceProfileSummaries", []):
                ids = {
                    m.group("id")
                    for m in map(_FOUNDATION_MODEL_ARN.match, _model_arns(profile))
                    if m
                }
                if model_id in ids and profile.get("status", "ACTIVE") == "ACTIVE":
                    found.append(profile)
    except ClientError as error:
        raise translate_client_error(error, "ListInferenceProfiles") from error
    return found


def _preferred(profiles: list[dict[str, Any]], region: str) -> dict[str, Any]:
    """The Region's own geography first, then ``global.``, then the first listed."""
    home = geography(region)

    def rank(profile: dict[str, Any]) -> int:
        prefix = str(profile["inferenceProfileId"]).split(".", 1)[0]
        return 0 if prefix == home else 1 if prefix == "global" else 2

    return sorted(profiles, key=rank)[0]


def invocation_problems(invocation: BaseInvocation, where: str = "evaluation") -> list[str]:
    """Why the stack could not call ``invocation`` (empty when it can).

    An on-demand model is granted in the stack's Region (every catalogued model); a profile
    must be listed in the data file with every destination Region the service reports.
    """
    if invocation.profile_id is None:
        return []
    granted = granted_profiles().get(invocation.profile_id)
    data_file = "lambda_handlers/data/inference_profiles.json"
    if granted is None:
        return [
            f"{where}: the base model {invocation.model_id} answers only through the inference "
            f"profile {invocation.profile_id}, which this stack may not invoke; add the profile "
            f"and its destination Regions to {data_file} and deploy again"
        ]
    missing = sorted(set(invocation.destination_regions) - set(granted["regions"]))
    if missing:
        return [
            f"{where}: the inference profile {invocation.profile_id} routes to "
            f"{', '.join(missing)}, where this stack may not invoke {invocation.model_id} "
            f"(granted: {', '.join(granted['regions'])}); add the Regions to {data_file} and "
            "deploy again"
        ]
    return []
