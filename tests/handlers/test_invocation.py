"""How the base model answers: resolved from GetFoundationModel and ListInferenceProfiles
(Stubber, checked against the service model), and the data the stack's IAM is built from."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_handlers.common import catalogue
from lambda_handlers.common.aws import client
from lambda_handlers.common.errors import AccessDenied
from lambda_handlers.evaluation.batch import minimum_records
from lambda_handlers.evaluation.invocation import (
    BaseInvocation,
    CannotInvoke,
    geography,
    granted_profiles,
    invocation_problems,
    profile_data,
    resolve,
)
from tests.factories import NOW, foundation_model

LLAMA = "meta.llama3-2-1b-instruct-v1:0"


def profile(profile_id: str, model: str, regions: tuple[str, ...]) -> dict[str, Any]:
    return {
        "inferenceProfileName": profile_id.replace(".", " ").replace(":", " "),
        "inferenceProfileArn": f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{profile_id}",
        "inferenceProfileId": profile_id,
        "models": [{"modelArn": f"arn:aws:bedrock:{r}::foundation-model/{model}"} for r in regions],
        "status": "ACTIVE",
        "type": "SYSTEM_DEFINED",
        "createdAt": NOW,
        "updatedAt": NOW,
    }


def test_a_model_that_runs_on_demand_is_invoked_by_its_id(stub) -> None:
    stub("bedrock").add_response(
        "get_foundation_model",
        foundation_model("amazon.nova-lite-v1:0"),
        {"modelIdentifier": "amazon.nova-lite-v1:0"},
    )
    invocation = resolve(client("bedrock"), "amazon.nova-lite-v1:0:300k", "us-east-1")
    assert invocation == BaseInvocation(
        "amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0", None, ("us-east-1",)
    )
    assert invocation_problems(invocation) == []


def test_a_profile_only_model_answers_through_the_profile_of_its_geography(stub) -> None:
    bedrock = stub("bedrock")
    bedrock.add_response("get_foundation_model", foundation_model(LLAMA, ("INFERENCE_PROFILE",)))
    bedrock.add_response(
        "list_inference_profiles",
        {
            "inferenceProfileSummaries": [
                profile("eu.meta.llama3-2-1b-instruct-v1:0", LLAMA, ("eu-west-1",)),
                profile("global.meta.llama3-2-1b-instruct-v1:0", LLAMA, ("us-east-1", "eu-west-1")),
                profile(
                    "us.meta.llama3-2-3b-instruct-v1:0",
                    "meta.llama3-2-3b-instruct-v1:0",
                    ("us-east-1",),
                ),
                profile("us.meta.llama3-2-1b-instruct-v1:0", LLAMA, ("us-east-1", "us-west-2")),
            ]
        },
        {"typeEquals": "SYSTEM_DEFINED"},
    )
    invocation = resolve(client("bedrock"), f"{LLAMA}:128k", "us-west-2")
    assert invocation.invoke_id == "us.meta.llama3-2-1b-instruct-v1:0"
    assert invocation.destination_regions == ("us-east-1", "us-west-2")
    assert invocation_problems(invocation) == []


def test_without_a_profile_of_its_geography_the_global_one_is_chosen(stub) -> None:
    bedrock = stub("bedrock")
    bedrock.add_response("get_foundation_model", foundation_model(LLAMA, ("INFERENCE_PROFILE",)))
    bedrock.add_response(
        "list_inference_profiles",
        {
            "inferenceProfileSummaries": [
                profile("eu.meta.llama3-2-1b-instruct-v1:0", LLAMA, ("eu-west-1",)),
                profile("global.meta.llama3-2-1b-instruct-v1:0", LLAMA, ("us-east-1", "eu-west-1")),
            ]
        },
    )
    invocation = resolve(client("bedrock"), LLAMA, "us-east-1")
    assert invocation.invoke_id == "global.meta.llama3-2-1b-instruct-v1:0"
    [problem] = invocation_problems(invocation)
    assert "global.meta.llama3-2-1b-instruct-v1:0, which this stack may not invoke" in problem
    assert "lambda_handlers/data/inference_profiles.json" in problem


def test_a_profile_routing_beyond_the_granted_regions_is_a_problem() -> None:
    routed = BaseInvocation(LLAMA, f"us.{LLAMA}", f"us.{LLAMA}", ("us-east-1", "us-west-1"))
    [problem] = invocation_problems(routed)
    assert "routes to us-west-1, where this stack may not invoke" in problem


def test_a_model_without_any_way_to_answer_cannot_invoke(stub) -> None:
    bedrock = stub("bedrock")
    bedrock.add_response("get_foundation_model", foundation_model(LLAMA, ("PROVISIONED",)))
    bedrock.add_response("list_inference_profiles", {"inferenceProfileSummaries": []})
    with pytest.raises(CannotInvoke, match="no system-defined inference profile contains it"):
        resolve(client("bedrock"), LLAMA, "us-east-1")
    bedrock.add_client_error("get_foundation_model", "ValidationException", "invalid model id")
    with pytest.raises(CannotInvoke, match="is not a foundation model in us-east-1"):
        resolve(client("bedrock"), LLAMA, "us-east-1")


def test_a_permission_missing_is_an_error_not_a_model_that_cannot_answer(stub) -> None:
    stub("bedrock").add_client_error("get_foundation_model", "AccessDeniedException", "no", 403)
    with pytest.raises(AccessDenied, match="GetFoundationModel"):
        resolve(client("bedrock"), LLAMA, "us-east-1")


@pytest.mark.parametrize(
    ("region", "prefix"),
    [
        ("us-east-1", "us"),
        ("us-gov-west-1", "us-gov"),
        ("eu-central-1", "eu"),
        ("ap-south-1", "apac"),
        ("me-south-1", None),
    ],
)
def test_a_regions_geography_is_its_profiles_prefix(region: str, prefix: str | None) -> None:
    assert geography(region) == prefix


def test_every_profile_the_stack_may_call_is_of_a_catalogued_model_with_sources() -> None:
    invoked = {catalogue.inference_model_id(m) for m in catalogue.models()}
    data = profile_data()
    assert data["sources"] and data["checked"]
    for profile_id, entry in data["profiles"].items():
        assert entry["model"] in invoked, profile_id
        assert profile_id == f"us.{entry['model']}"
        assert entry["regionsSource"]
    # The models the facts name as unable to run on demand all have a profile.
    needing = {
        "amazon.nova-2-lite-v1:0",
        "meta.llama3-2-1b-instruct-v1:0",
        "meta.llama3-2-3b-instruct-v1:0",
        "meta.llama3-2-11b-instruct-v1:0",
        "meta.llama3-2-90b-instruct-v1:0",
        "meta.llama3-3-70b-instruct-v1:0",
    }
    assert needing <= {g["model"] for g in granted_profiles().values()}


def test_every_catalogued_model_that_takes_batch_jobs_needs_100_records() -> None:
    listed = {m: minimum_records(catalogue.inference_model_id(m)) for m in catalogue.models()}
    assert {v for v in listed.values() if v is not None} == {100}
    assert listed["amazon.nova-2-lite-v1:0:256k"] is None, "no source says it takes batch jobs"
    assert listed["meta.llama3-2-1b-instruct-v1:0:128k"] == 100


@pytest.mark.parametrize(
    ("customizable", "on_demand"),
    [
        ("amazon.nova-lite-v1:0:300k", "amazon.nova-lite-v1:0"),
        ("meta.llama3-1-8b-instruct-v1:0:128k", "meta.llama3-1-8b-instruct-v1:0"),
        ("amazon.titan-text-lite-v1:0:4k", "amazon.titan-text-lite-v1"),
        ("amazon.titan-text-express-v1:0:8k", "amazon.titan-text-express-v1"),
        ("amazon.titan-text-premier-v1:0:32k", "amazon.titan-text-premier-v1:0"),
        ("cohere.command-text-v14:7:4k", "cohere.command-text-v14"),
        ("cohere.command-light-text-v14:7:4k", "cohere.command-light-text-v14"),
    ],
)
def test_the_on_demand_id_is_the_one_the_model_ids_page_lists(
    customizable: str, on_demand: str
) -> None:
    assert catalogue.inference_model_id(customizable) == on_demand


def test_a_profile_both_data_files_list_routes_to_the_same_regions() -> None:
    """distillation.json (teachers) and inference_profiles.json (evaluation) each grant
    invoking through their profiles; one both list must not drift apart."""
    from lambda_handlers.evaluation.invocation import granted_profiles
    from lambda_handlers.validation.distillation import raw_data

    teachers = raw_data()["inferenceProfiles"]
    evaluation = granted_profiles()
    shared = set(teachers) & set(evaluation)
    assert shared, "the files share a profile today (Llama 3.3 70B): keep this test meaningful"
    for profile in shared:
        regions = sorted({r for rs in teachers[profile]["destinationRegions"].values() for r in rs})
        assert teachers[profile]["model"] == evaluation[profile]["model"], profile
        assert regions == evaluation[profile]["regions"], profile
