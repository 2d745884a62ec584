"""Which dataset rules apply to a model and approach: read from one data file.

``lambda_handlers/data/dataset_rules.json`` holds, with sources and date, the format
and the limits (record counts, tokens and characters per record, file size) of each
model and approach. This module only reads it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from lambda_handlers.common import catalogue


@dataclass(frozen=True)
class DatasetRules:
    """The limits one model and approach put on a dataset (``None``: not published)."""

    format: str
    min_records: int | None = None
    max_records: int | None = None
    max_validation_records: int | None = None
    max_tokens_per_record: int | None = None
    max_chars_per_record: int | None = None
    max_file_bytes: int | None = None
    max_validation_file_bytes: int | None = None  # per validation file; None: max_file_bytes
    content_types: tuple[str, ...] = ("text",)
    counts_training_plus_validation: bool = False
    max_total_records: int | None = None
    validation_supported: bool = True
    multi_turn: bool = True
    system_blocks: int | None = None  # blocks a present 'system' array must hold
    media: dict[str, Any] | None = None
    reserved_keywords: tuple[str, ...] = ()
    reserved_ignore_case: bool = False
    unknown_fields: str = "warning"  # or "error", per the format's documentation
    source: str = ""
    notes: str = ""
    models: tuple[str, ...] = field(default=())
    customization_type: str = ""

    def limits(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "minRecords": self.min_records,
            "maxRecords": self.max_records,
            "maxValidationRecords": self.max_validation_records,
            "maxTokensPerRecord": self.max_tokens_per_record,
            "maxCharsPerRecord": self.max_chars_per_record,
            "maxFileBytes": self.max_file_bytes,
            "maxValidationFileBytes": self.max_validation_file_bytes,
            "contentTypes": list(self.content_types),
            "countsTrainingPlusValidation": self.counts_training_plus_validation,
            "maxTotalRecords": self.max_total_records,
            "validationSupported": self.validation_supported,
            "reservedKeywords": list(self.reserved_keywords),
            "unknownFields": self.unknown_fields,
            "source": self.source,
            "notes": self.notes,
        }


@cache
def raw_rules() -> dict[str, Any]:
    text = resources.files("lambda_handlers").joinpath("data/dataset_rules.json").read_text("utf-8")
    return json.loads(text)


def _content_types(entry: dict[str, Any], model_id: str) -> tuple[str, ...]:
    by_model = entry.get("contentTypes")
    if isinstance(by_model, dict):
        return tuple(by_model.get(model_id) or by_model.get("default") or ["text"])
    if isinstance(by_model, list):
        return tuple(by_model)
    allowed = raw_rules().get("conversation", {}).get("allowedContentTypes", {})
    value = allowed.get(model_id) or allowed.get(entry["format"])
    if isinstance(value, dict):
        value = value.get(model_id) or value.get("default")
    return tuple(value or ["text"])


def _reserved(model_id: str, fmt: str) -> tuple[tuple[str, ...], bool]:
    """Keywords whose presence fails a job: Nova's list (matched ignoring case, as AWS's own
    validator does, with its extras), Anthropic's turn markers for Claude."""
    conversation = raw_rules().get("conversation", {})
    if model_id in conversation.get("reservedKeywordsAppliesTo", []):
        words = conversation.get("reservedKeywords", []) + conversation.get(
            "reservedKeywordsAwsValidatorExtra", []
        )
        return tuple(dict.fromkeys(w.lower() for w in words)), True
    if fmt == "claude-messages":
        return tuple(conversation.get("anthropicReservedSequences", [])), False
    return (), False


@cache
def all_rules() -> tuple[DatasetRules, ...]:
    """Every rule of the data file, one per model and approach."""
    out = []
    for entry in raw_rules()["rules"]:
        match = entry["match"]
        for model_id in match["models"]:
            reserved, ignore_case = _reserved(model_id, entry["format"])
            out.append(
                DatasetRules(
                    format=entry["format"],
                    min_records=entry.get("minRecords"),
                    max_records=entry.get("maxRecords"),
                    max_validation_records=entry.get("maxValidationRecords"),
                    max_tokens_per_record=entry.get("maxTokensPerRecord"),
                    max_chars_per_record=entry.get("maxCharsPerRecord"),
                    max_file_bytes=entry.get("maxFileBytes"),
                    max_validation_file_bytes=entry.get("maxValidationFileBytes"),
                    content_types=_content_types(entry, model_id),
                    counts_training_plus_validation=bool(
                        entry.get("countsTrainingPlusValidation", False)
                    ),
                    max_total_records=entry.get("maxTotalRecords"),
                    validation_supported=entry.get("validationSupported", True) is not False,
                    multi_turn=entry.get("multiTurn", True) is not False,
                    system_blocks=entry.get("systemBlocks"),
                    media=entry.get("media"),
                    reserved_keywords=reserved,
                    reserved_ignore_case=ignore_case,
                    unknown_fields=raw_rules()
                    .get("formats", {})
                    .get(entry["format"], {})
                    .get("unknownFields", "warning"),
                    source=entry.get("source", ""),
                    notes=entry.get("notes", ""),
                    models=(model_id,),
                    customization_type=match["customizationType"],
                )
            )
    return tuple(out)


def rules_for(base_model: str, customization_type: str) -> DatasetRules:
    """The rules for a model id (or foundation-model ARN) and approach; ``ValueError`` if none."""
    model = catalogue.find_model(base_model)
    model_id = model.model_id if model else base_model
    for rule in all_rules():
        if model_id in rule.models and rule.customization_type == customization_type:
            return rule
    known = sorted({f"{r.models[0]} {r.customization_type}" for r in all_rules()})
    raise ValueError(
        f"no dataset rules for {base_model!r} with {customization_type}; known combinations:\n  "
        + "\n  ".join(known)
    )


def formats() -> dict[str, Any]:
    """The formats section of the data file (descriptions and sources)."""
    return dict(raw_rules().get("formats", {}))
