"""models and compare-costs: the catalogue as rows and as a table, the cost comparison's output."""

from __future__ import annotations

import io
import json

import pytest

from lambda_handlers.cli import main
from lambda_handlers.cli.console import Output
from lambda_handlers.cli.model_commands import catalogue_rows, catalogue_table
from lambda_handlers.common.catalogue import models
from lambda_handlers.datatools.compare_costs import (
    BASE_ON_DEMAND,
    PROVISIONED_NO_COMMITMENT,
    PROVISIONED_ONE_MONTH,
    PROVISIONED_SIX_MONTHS,
)
from tests.cli.helpers import ESCAPE, error_line, run

NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
NOVA_PRO = "amazon.nova-pro-v1:0:300k"
NOVA_LITE = "amazon.nova-lite-v1:0:300k"


def format_table(rows: list[dict]) -> str:
    """The catalogue table as it prints when piped."""
    stdout = io.StringIO()
    out = Output(stdout, io.StringIO())
    out.show(catalogue_table(out, rows))
    return stdout.getvalue()


# --- models: the rows ------------------------------------------------------------------------


def test_every_catalogued_model_has_a_row() -> None:
    rows = catalogue_rows()
    assert [row["model_id"] for row in rows] == list(models())
    json.dumps(rows)  # JSON-ready for `models --json`


def test_rows_carry_approaches_serving_regions_and_hyperparameter_ranges() -> None:
    row = next(r for r in catalogue_rows() if r["model_id"] == HAIKU)
    assert row["approaches"] == ["FINE_TUNING"]
    assert row["serving_modes"] == ["provisioned-throughput"]
    assert row["regions"] == ["us-west-2"]
    batch = next(h for h in row["hyperparameters"] if h["name"] == "batchSize")
    assert (batch["min"], batch["max"], batch["default"]) == (4, 256, 32)


def test_unpublished_hyperparameters_say_so() -> None:
    row = next(r for r in catalogue_rows() if r["model_id"] == NOVA_2_LITE)
    assert row["hyperparameters"] is None
    assert "not published" in row["hyperparameters_note"]
    assert "not published" in format_table([row])


# --- models: the table -----------------------------------------------------------------------


def test_the_table_names_every_model_and_its_details() -> None:
    text = format_table(catalogue_rows())
    for model in models().values():
        assert model.model_id in text
        assert model.name in text
    assert "learningRateMultiplier (float 0.1 to 2, default 1)" in text
    assert "Cohere Command (legacy)" in text


def test_columns_are_fixed_width_and_the_table_fits_100_columns() -> None:
    lines = format_table(catalogue_rows()).splitlines()
    header = lines[0]
    first_model = lines[2]
    assert first_model.index("FINE_TUNING") == header.index("APPROACHES")
    # Every rule line has the same width, 100 columns, and nothing is wider.
    rules = [line for line in lines if set(line) <= {"-", " "} and line]
    assert {len(rule) for rule in rules} == {100}
    assert max(map(len, lines)) == 100


def test_an_empty_table_is_just_the_header() -> None:
    lines = format_table([]).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("MODEL")


def test_the_table_is_plain_text_when_piped() -> None:
    text = format_table(catalogue_rows())
    assert ESCAPE not in text
    assert text.isascii()
    assert all(line == line.rstrip() for line in text.splitlines())


def test_multi_value_cells_take_one_line_per_value_with_the_name_under_the_id() -> None:
    lines = format_table(catalogue_rows()).splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith(NOVA_2_LITE))
    assert lines[row + 1].startswith("Amazon Nova 2 Lite")
    assert lines[row + 2].startswith("us-east-1")
    assert "FINE_TUNING, REINFORCEMENT_FINE_TUNING" in lines[row]
    assert "serving: provisioned-throughput" in lines[row + 1]


# --- models: the command ---------------------------------------------------------------------


def test_models_json_lists_every_catalogued_model() -> None:
    code, out, _ = run("models", "--json")
    rows = json.loads(out)
    assert code == 0
    assert {row["model_id"] for row in rows} == set(models())


def test_models_prints_the_table() -> None:
    code, out, _ = run("models")
    assert code == 0
    assert out.startswith("MODEL")
    assert all(model_id in out for model_id in models())
    assert out == format_table(catalogue_rows())


# --- compare-costs ---------------------------------------------------------------------------

BASE_ARGS = (
    "compare-costs",
    "--requests-per-day",
    "10000",
    "--input-tokens",
    "1000",
    "--output-tokens",
    "500",
    "--base-model",
    "amazon.nova-pro-v1:0",
)


def test_cli_json_with_command_line_prices() -> None:
    code, out, err = run(
        *BASE_ARGS, "--price-provisioned-hour", "10", "--price-storage-month", "3", "--json"
    )
    assert code == 0
    assert err == ""
    report = json.loads(out)
    costs = {option["key"]: option["usd"] for option in report["options"]}
    # On demand (shipped Nova Pro prices): 300,000 x $0.0024 = $720.
    # No commitment: 720 h x $10 + $3 = $7,203. Commitments: no price shipped -> null.
    assert costs == {
        BASE_ON_DEMAND: 720.0,
        PROVISIONED_NO_COMMITMENT: 7203.0,
        PROVISIONED_ONE_MONTH: None,
        PROVISIONED_SIX_MONTHS: None,
    }
    assert report["cheapest"] == BASE_ON_DEMAND
    # Break-even: ($10 x 24 + $3 / 30) / $0.0024 = 240.1 / 0.0024 = 100,041.666... -> 100,041.67.
    assert report["break_even"][0]["requests_per_day"] == 100_041.67
    assert report["break_even"][1]["requests_per_day"] is None
    assert report["base_model"] == NOVA_PRO
    assert report["assumptions"]
    assert report["disclaimer"].startswith("ESTIMATE")


def test_cli_human_output_is_a_short_table_that_says_estimate() -> None:
    code, out, _ = run(*BASE_ARGS, "--student-model", NOVA_LITE)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("ESTIMATE, not a quote: 10,000 requests a day for 30 days")
    assert lines[2].startswith("OPTION")
    assert "COST, 30 DAYS" in lines[2]
    base_row = next(line for line in lines if line.startswith("base model, on demand"))
    assert "$720.00" in base_row
    no_commitment = next(line for line in lines if line.startswith("custom model, provisioned, no"))
    assert "unknown" in no_commitment
    assert "needs --price-provisioned-hour, --price-storage-month" in no_commitment
    assert "$0.00" not in out  # unknown is never shown as zero
    assert "cheapest: base model, on demand, $720.00" in out
    assert "2026-10-05" in out  # the date of the shipped price
    assert "assumptions:" in out
    assert ESCAPE not in out


def test_cli_costs_line_up_right_aligned_under_their_header() -> None:
    _, out, _ = run(*BASE_ARGS, "--price-provisioned-hour", "10", "--price-storage-month", "3")
    lines = out.splitlines()
    header = lines[2]
    cost_end = header.index("COST, 30 DAYS") + len("COST, 30 DAYS")
    for label, cost in [("base model, on demand", "$720.00"), ("custom model", "$7,203.00")]:
        row = next(line for line in lines if line.startswith(label))
        assert row.index(cost) + len(cost) == cost_end


def test_cli_shows_a_cost_under_a_cent_with_its_digits() -> None:
    code, out, _ = run(
        "compare-costs",
        "--requests-per-day",
        "1",
        "--input-tokens",
        "10",
        "--output-tokens",
        "1",
        "--days",
        "1",
        "--base-model",
        NOVA_PRO,
    )
    assert code == 0
    # 1 request x (10/1,000 x $0.0008 + 1/1,000 x $0.0032) = $0.000008 + $0.0000032 = $0.0000112
    # -> three significant digits under a millionth's precision: $0.0000112.
    base_row = next(line for line in out.splitlines() if line.startswith("base model, on"))
    assert "$0.0000112" in base_row


def test_cli_break_even_line_when_known() -> None:
    code, out, _ = run(*BASE_ARGS, "--price-provisioned-hour", "10", "--price-storage-month", "3")
    assert code == 0
    assert "break-even, no commitment: 100,041.67 requests a day" in out
    assert "at this volume on demand costs the same or less" in out
    assert "[2] command line" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--days", "0"), "--days must be from 1 to 1,000,000,000,000,000, got 0"),
        (("--custom-units", "0"), "--custom-units must be from 1 to"),
        (("--price-storage-month", "-3"), "--price-storage-month must be a price"),
        (("--price-on-demand-output", "nan"), "--price-on-demand-output must be a price"),
        (("--student-model", "nova-9"), "unknown model 'nova-9'"),
    ],
)
def test_cli_usage_errors_exit_2_with_one_error_line(extra: tuple[str, ...], message: str) -> None:
    code, out, err = run(*BASE_ARGS, *extra, "--json")
    assert code == 2
    assert message in error_line(err)
    assert out == ""


def test_cli_arguments_argparse_cannot_parse_exit_with_2() -> None:
    code, out, err = run(*BASE_ARGS[:2], "many", *BASE_ARGS[3:])
    assert code == 2
    assert "invalid int value: 'many'" in error_line(err)
    assert out == ""


def test_compare_costs_is_a_bedrock_customize_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE_ARGS, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["options"][0]["usd"] == 720.0
    assert main([*BASE_ARGS, "--requests-per-day", "0"]) == 2
    assert error_line(capsys.readouterr().err).startswith("error: --requests-per-day")
