"""The dataset rules data file: complete, sourced, and read the way the engine needs."""

from __future__ import annotations

import pytest

from lambda_handlers.common import catalogue
from lambda_handlers.validation.formats import CHECKERS
from lambda_handlers.validation.rules import all_rules, formats, raw_rules, rules_for


def test_every_catalogued_model_and_approach_has_rules() -> None:
    for model in catalogue.models().values():
        for approach in model.customization_types:
            rules = rules_for(model.model_id, approach)
            assert rules.format in CHECKERS, (model.model_id, approach)


def test_every_rule_names_a_known_format_and_a_source() -> None:
    data = raw_rules()
    assert data["checked"] and data["sources"]
    for rule in all_rules():
        assert rule.format in formats(), rule
        assert rule.source.startswith("https://"), rule


def test_rules_are_found_by_foundation_model_arn() -> None:
    arn = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0:300k"
    assert rules_for(arn, "FINE_TUNING") == rules_for("amazon.nova-lite-v1:0:300k", "FINE_TUNING")


def test_an_unknown_combination_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known combinations") as caught:
        rules_for("amazon.nova-lite-v1:0:300k", "CONTINUED_PRE_TRAINING")
    assert "amazon.nova-lite-v1:0:300k FINE_TUNING" in str(caught.value)


def test_what_the_documentation_says_is_what_the_engine_applies() -> None:
    nova = rules_for("amazon.nova-micro-v1:0:128k", "FINE_TUNING")
    assert (nova.format, nova.min_records, nova.max_records, nova.max_tokens_per_record) == (
        "bedrock-conversation",
        8,
        20000,
        32000,
    )
    assert nova.counts_training_plus_validation
    assert nova.content_types == ("text",), "Nova Micro is text only"
    assert "bot:" in nova.reserved_keywords and nova.reserved_ignore_case
    lite = rules_for("amazon.nova-lite-v1:0:300k", "FINE_TUNING")
    assert {"image", "video"} <= set(lite.content_types)
    haiku = rules_for("anthropic.claude-3-haiku-20240307-v1:0:200k", "FINE_TUNING")
    assert (haiku.format, haiku.unknown_fields) == ("claude-messages", "error")
    assert "\nHuman:" in haiku.reserved_keywords
    cpt = rules_for("amazon.titan-text-express-v1:0:8k", "CONTINUED_PRE_TRAINING")
    assert (cpt.format, cpt.unknown_fields) == ("continued-pretraining", "error")
    assert not rules_for("amazon.nova-2-lite-v1:0:256k", "FINE_TUNING").validation_supported
    assert not rules_for("meta.llama3-1-8b-instruct-v1:0:128k", "DISTILLATION").multi_turn


def test_each_aws_validator_rule_says_what_the_engine_does_and_cites_the_file() -> None:
    section = raw_rules()["awsValidators"]
    assert section["repository"] == "https://github.com/aws-samples/amazon-bedrock-samples"
    names = set()
    for validator in section["validators"]:
        names.add(validator["path"].split("/")[2])
        assert validator["path"].startswith("custom-models/bedrock-fine-tuning/")
        assert len(validator["commit"]) == 40 and validator["commit"] in validator["url"]
        for model_id in validator["appliesTo"]:
            assert rules_for(model_id, "FINE_TUNING").models == (model_id,)
        for rule in validator["rules"]:
            assert rule["engine"] in {"follows", "stricter", "differs", "added", "not-followed"}
            assert rule["where"], rule
            if rule["engine"] in {"stricter", "differs", "added", "not-followed"}:
                assert rule.get("reason"), rule
    assert names == {"nova", "claude-haiku", "meta-llama"}


def test_nova_media_uris_use_the_characters_aws_accepts() -> None:
    for model_id in ("amazon.nova-lite-v1:0:300k", "amazon.nova-2-lite-v1:0:256k"):
        media = rules_for(model_id, "FINE_TUNING").media or {}
        assert media["uriPattern"] == r"s3://[\w\-/.]+", model_id
    llama = rules_for("meta.llama3-2-11b-instruct-v1:0:128k", "FINE_TUNING").media or {}
    assert "uriPattern" not in llama, "AWS's Llama validator asks only for s3://"
