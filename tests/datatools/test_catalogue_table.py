"""The catalogue as rows and as a fixed-width terminal table."""

from __future__ import annotations

import json

from lambda_handlers.common.catalogue import models
from lambda_handlers.datatools.catalogue_table import format_table, models_table

NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"


def test_every_catalogued_model_has_a_row() -> None:
    rows = models_table()
    assert [row["model_id"] for row in rows] == list(models())
    json.dumps(rows)  # JSON-ready for `models --json`


def test_rows_carry_approaches_serving_regions_and_hyperparameter_ranges() -> None:
    row = next(r for r in models_table() if r["model_id"] == HAIKU)
    assert row["approaches"] == ["FINE_TUNING"]
    assert row["serving_modes"] == ["provisioned-throughput"]
    assert row["regions"] == ["us-west-2"]
    batch = next(h for h in row["hyperparameters"] if h["name"] == "batchSize")
    assert (batch["min"], batch["max"], batch["default"]) == (4, 256, 32)


def test_unpublished_hyperparameters_say_so() -> None:
    row = next(r for r in models_table() if r["model_id"] == NOVA_2_LITE)
    assert row["hyperparameters"] is None
    assert "not published" in row["hyperparameters_note"]
    assert "not published" in format_table([row])


def test_the_table_names_every_model_and_its_details() -> None:
    text = format_table(models_table())
    for model in models().values():
        assert model.model_id in text
        assert model.name in text
    assert "learningRateMultiplier (float 0.1 to 2, default 1)" in text
    assert "Cohere Command (legacy)" in text


def test_columns_are_fixed_width() -> None:
    lines = format_table(models_table()).splitlines()
    header = lines[0]
    first_model = lines[2]
    for title, value in [("APPROACHES", "FINE_TUNING"), ("REGIONS", "us-east-1")]:
        assert first_model.index(value) == header.index(title)
    # Every rule line has the same width as the widest content line.
    rules = [line for line in lines if set(line) <= {"-", " "} and line]
    assert len({len(rule) for rule in rules}) == 1
    assert all(len(line) <= len(rules[0]) for line in lines)


def test_an_empty_table_is_just_the_header() -> None:
    lines = format_table([]).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("MODEL")
