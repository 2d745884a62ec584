"""The model catalogue: which base models take which approach, with what hyperparameters.

The data lives in ``lambda_handlers/data/models.json`` with its sources and date; this
module only reads it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

_FOUNDATION_MODEL_ARN = re.compile(
    r"^arn:aws(?:-[a-z]+)*:bedrock:[a-z0-9-]+::foundation-model/(?P<id>.+)$"
)


@dataclass(frozen=True)
class HyperParameterRule:
    """Range and default of one hyperparameter for a family of models."""

    name: str
    kind: str  # "int" or "float"
    minimum: float
    maximum: float
    default: float

    def describe(self) -> str:
        return f"{self.name} ({self.kind} {_fmt(self.minimum)} to {_fmt(self.maximum)}, default {_fmt(self.default)})"


@dataclass(frozen=True)
class BaseModel:
    """One customizable base model."""

    model_id: str
    name: str
    short: str
    customization_types: tuple[str, ...]
    serving_modes: tuple[str, ...]
    regions: tuple[str, ...]
    hyperparameters: dict[str, HyperParameterRule] | None = field(default=None)
    hyperparameters_note: str = ""
    legacy: bool = False
    invocation_id: str | None = None
    """The on-demand id, where it is not the customizable id without its context suffix."""


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) >= 1 else repr(value)


@cache
def _raw() -> dict[str, Any]:
    text = resources.files("lambda_handlers").joinpath("data/models.json").read_text("utf-8")
    return json.loads(text)


@cache
def models() -> dict[str, BaseModel]:
    """Every model of the catalogue, by model id."""
    raw = _raw()
    families = {
        family: {
            name: HyperParameterRule(name, r["type"], r["min"], r["max"], r["default"])
            for name, r in rules.items()
        }
        for family, rules in raw["hyperParameterFamilies"].items()
    }
    result: dict[str, BaseModel] = {}
    for model_id, entry in raw["models"].items():
        family = entry.get("hyperParameters")
        result[model_id] = BaseModel(
            model_id=model_id,
            name=entry["name"],
            short=entry["short"],
            customization_types=tuple(entry["customizationTypes"]),
            serving_modes=tuple(entry["servingModes"]),
            regions=tuple(entry["regions"]),
            hyperparameters=families[family] if family else None,
            hyperparameters_note=entry.get("hyperParametersNote", ""),
            legacy=bool(entry.get("legacy", False)),
            invocation_id=entry.get("invocationId"),
        )
    return result


def all_hyperparameter_names() -> set[str]:
    """Names that are a hyperparameter of at least one catalogued model."""
    return {name for family in _raw()["hyperParameterFamilies"].values() for name in family}


def find_model(identifier: str) -> BaseModel | None:
    """The catalogued model for a model id or a foundation-model ARN, else ``None``."""
    match = _FOUNDATION_MODEL_ARN.match(identifier)
    model_id = match.group("id") if match else identifier
    return models().get(model_id)


def inference_model_id(identifier: str) -> str:
    """The id to invoke a base model with: the catalogue's ``invocationId`` where it has one
    (``amazon.titan-text-lite-v1:0:4k`` -> ``amazon.titan-text-lite-v1``), else the customizable
    id without its context-length suffix (``amazon.nova-lite-v1:0:300k`` -> ``amazon.nova-lite-v1:0``)."""
    model = find_model(identifier)
    if model and model.invocation_id:
        return model.invocation_id
    model_id = model.model_id if model else identifier
    parts = model_id.split(":")
    return ":".join(parts[:2]) if len(parts) == 3 and parts[2].endswith("k") else model_id
