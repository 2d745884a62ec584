"""``estimate-cost`` and ``compare-costs`` with the sourced prices and a ``--prices`` file:
sourced dollar figures, small amounts with their digits, epochs held to the model's range,
numbers that cannot be computed with refused, and a bad prices file refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.helpers import error_line, run
from tests.factories import jsonl

LLAMA = "meta.llama3-1-8b-instruct-v1:0:128k"
NOVA_LITE = "amazon.nova-lite-v1:0:300k"
NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"
ESTIMATE = ("estimate-cost", "--type", "FINE_TUNING")
COMPARE = (
    "compare-costs",
    "--requests-per-day",
    "1000",
    "--input-tokens",
    "500",
    "--output-tokens",
    "100",
)


def prices_file(tmp_path: Path, document: object, name: str = "negotiated.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), "utf-8")
    return path


def nova_prices(tmp_path: Path) -> Path:
    return prices_file(
        tmp_path,
        {
            "models": {
                NOVA_LITE: {
                    "trainingUsdPer1kTokens": 0.002,
                    "storageUsdPerMonth": 1.95,
                    "provisionedThroughputUsdPerModelUnitHour": {"noCommitment": 21.0},
                    "source": "our agreement with AWS",
                    "asOf": "2026-10-01",
                }
            }
        },
    )


# --- estimate-cost ---------------------------------------------------------------------------


def test_the_llama_training_price_is_printed_with_its_source_and_date() -> None:
    code, out, err = run(*ESTIMATE, "--base-model", LLAMA)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("ESTIMATE: ")
    assert lines[1].startswith("prices: training $0.00149 per 1,000 tokens, from ")
    assert "aws-bedrock-pricing-data" in lines[1] and "(as of 2026-07-24)" in lines[1]
    assert "storage of the custom model: $1.95 a month" in out
    assert "epochs: 5 (the model's default; it accepts 1 to 10)" in out


def test_the_json_carries_the_figure_its_source_and_date() -> None:
    code, out, _ = run(*ESTIMATE, "--base-model", LLAMA, "--json")
    assert code == 0
    result = json.loads(out)
    assert result["trainingUsdPer1kTokens"] == 0.00149
    assert result["trainingPriceAsOf"] == "2026-07-24"
    assert "aws-bedrock-pricing-data" in result["trainingPriceSource"]
    assert result["estimate"] is None


def test_a_job_of_one_token_costs_its_real_digits_not_zero() -> None:
    code, out, _ = run(*ESTIMATE, "--base-model", LLAMA, "--tokens", "1", "--epochs", "1")
    assert code == 0
    # 1 token / 1,000 x $0.00149 = $0.00000149.
    assert out.splitlines()[0].endswith("-> training about $0.00000149")
    assert "$0.00 " not in out and not out.splitlines()[0].endswith("$0.00")
    assert "tokens: as given with --tokens" in out


def test_a_data_file_estimate_describes_the_token_estimate_it_uses(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    records = [{"prompt": f"{i:03d}" + "a" * 287, "completion": "b" * 10} for i in range(100)]
    path.write_bytes(jsonl(records))  # 300 bytes of text each: 100 estimated tokens
    code, out, _ = run(*ESTIMATE, str(path), "--base-model", LLAMA, "--epochs", "2")
    assert code == 0
    # 100 x 100 tokens x 2 epochs = 20,000 tokens x $0.00149 / 1,000 = $0.0298 -> $0.03.
    assert out.splitlines()[0] == (
        "ESTIMATE: 20,000 tokens (10,000 per epoch x 2 epochs) -> training about $0.03"
    )
    assert "one token per 3 UTF-8 bytes" in out
    assert "6 characters per token" in out  # named as AWS's figure, not as the one used


@pytest.mark.parametrize(
    ("model", "epochs", "range_text"),
    [
        (LLAMA, "11", "1 to 10, default 5"),
        (LLAMA, "0", "1 to 10, default 5"),
        (NOVA_LITE, "6", "1 to 5, default 2"),
        ("cohere.command-text-v14:7:4k", "101", "1 to 100, default 1"),
    ],
)
def test_epochs_outside_the_models_range_are_refused(
    model: str, epochs: str, range_text: str
) -> None:
    code, out, err = run(*ESTIMATE, "--base-model", model, "--tokens", "1000", "--epochs", epochs)
    assert code == 2 and out == ""
    line = error_line(err)
    assert f"--epochs {epochs} is outside what {model} accepts" in line
    assert range_text in line


def test_a_model_without_published_epochs_needs_them_given() -> None:
    code, _, err = run(*ESTIMATE, "--base-model", NOVA_2_LITE, "--tokens", "1000")
    assert code == 2
    assert "--epochs is needed" in error_line(err)
    code, out, _ = run(*ESTIMATE, "--base-model", NOVA_2_LITE, "--tokens", "1000", "--epochs", "3")
    assert code == 0 and "this model's range is not published" in out


def test_reinforcement_fine_tuning_epochs_are_held_to_rft_configs_range() -> None:
    args = ("estimate-cost", "--type", "REINFORCEMENT_FINE_TUNING", "--base-model", NOVA_2_LITE)
    code, _, err = run(*args, "--tokens", "10", "--epochs", "51")
    assert code == 2 and "1 to 50" in error_line(err)
    code, out, _ = run(*args, "--tokens", "10", "--epochs", "50")
    assert code == 0
    assert "grader's Lambda invocations" in out  # what the estimate leaves out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--tokens", "0"), "--tokens must be from 1 to"),
        (("--tokens", "-5"), "--tokens must be from 1 to"),
        (("--type", "CONTINUED_PRE_TRAINING"), "does not support CONTINUED_PRE_TRAINING"),
        (("--tokens", "1", "train.jsonl"), "give TRAIN or --tokens, not both"),
    ],
)
def test_estimate_cost_usage_errors(extra: tuple[str, ...], message: str) -> None:
    code, out, err = run(*ESTIMATE, "--base-model", LLAMA, *extra)
    assert code == 2 and out == ""
    assert message in error_line(err)


def test_without_a_price_the_estimate_says_how_to_give_one() -> None:
    code, out, _ = run(*ESTIMATE, "--base-model", NOVA_LITE, "--tokens", "1000")
    assert code == 0
    assert "-> training unknown (no training price)" in out
    assert "give it with --prices FILE" in out


def test_a_prices_file_prices_a_nova_model_and_is_cited(tmp_path: Path) -> None:
    path = nova_prices(tmp_path)
    code, out, err = run(
        *ESTIMATE, "--base-model", NOVA_LITE, "--tokens", "10000", "--prices", str(path)
    )
    assert code == 0, err
    # 10,000 tokens x 2 epochs (Nova's default) / 1,000 x $0.002 = $0.04.
    assert out.splitlines()[0].endswith("-> training about $0.04")
    assert "from our agreement with AWS (as of 2026-10-01)" in out


# --- the prices file refused -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        (
            json.dumps({"models": {NOVA_LITE: {"trainingUsdPer1kTokens": -0.002}}}),
            'at $.models["amazon.nova-lite-v1:0:300k"].trainingUsdPer1kTokens: got -0.002; '
            "allowed: a number of US dollars above 0",
        ),
        (
            '{"models": {"NOVA": {"trainingUsdPer1kTokens": NaN}}}'.replace("NOVA", NOVA_LITE),
            "got NaN",
        ),
        (json.dumps({"models": {"nova-lite": {}}}), 'unknown model ID "nova-lite"'),
    ],
)
@pytest.mark.parametrize("command", ["estimate", "compare"])
def test_a_bad_prices_file_is_a_usage_error_naming_the_file_and_the_path(
    tmp_path: Path, content: str, message: str, command: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, "utf-8")
    args = (
        (*ESTIMATE, "--base-model", LLAMA)
        if command == "estimate"
        else (*COMPARE, "--base-model", NOVA_LITE)
    )
    code, out, err = run(*args, "--prices", str(path))
    assert code == 2 and out == ""
    line = error_line(err)
    assert line.startswith(f"error: prices file {path}: at ")
    assert message in line


def test_a_prices_file_that_is_missing_or_unreadable(tmp_path: Path) -> None:
    code, _, err = run(*ESTIMATE, "--base-model", LLAMA, "--prices", str(tmp_path / "no.json"))
    assert code == 2 and "no such file or directory; check the path" in error_line(err)
    code, _, err = run(*ESTIMATE, "--base-model", LLAMA, "--prices", str(tmp_path))
    assert code == 2 and "give the path of a file" in error_line(err)


# --- compare-costs -----------------------------------------------------------------------------


def test_compare_costs_uses_the_prices_file_and_cites_it(tmp_path: Path) -> None:
    path = nova_prices(tmp_path)
    code, out, err = run(*COMPARE, "--base-model", NOVA_LITE, "--prices", str(path), "--json")
    assert code == 0, err
    result = json.loads(out)
    [no_commitment] = [o for o in result["options"] if o["key"].endswith("no-commitment")]
    # 1 unit x $21 x 24 h x 30 days + $1.95 storage = $15,121.95.
    assert no_commitment["usd"] == 15_121.95
    assert {p["source"] for p in no_commitment["prices"]} == {"our agreement with AWS"}


def test_a_command_line_price_wins_over_the_prices_file(tmp_path: Path) -> None:
    path = nova_prices(tmp_path)
    code, out, _ = run(
        *COMPARE,
        "--base-model",
        NOVA_LITE,
        "--prices",
        str(path),
        "--price-provisioned-hour",
        "10",
        "--json",
    )
    assert code == 0
    [no_commitment] = [o for o in json.loads(out)["options"] if o["key"].endswith("no-commitment")]
    assert no_commitment["usd"] == 10 * 24 * 30 + 1.95


def test_compare_costs_uses_the_sourced_llama_throughput_prices() -> None:
    code, out, _ = run(*COMPARE, "--base-model", LLAMA, "--json")
    assert code == 0
    options = {o["key"]: o for o in json.loads(out)["options"]}
    # 1 unit x $13.08 x 24 h x 30 days + $1.95 storage = $9,419.55.
    assert options["custom-provisioned-6-months"]["usd"] == 9_419.55


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--requests-per-day", "0"), "--requests-per-day must be from 1 to"),
        (("--requests-per-day", "-4"), "--requests-per-day must be from 1 to"),
        (("--input-tokens", "0"), "--input-tokens must be from 1 to"),
        (("--output-tokens", "-1"), "--output-tokens must be from 0 to"),
        (("--days", "0"), "--days must be from 1 to"),
        (("--days", str(10**16)), "--days must be from 1 to 1,000,000,000,000,000"),
        (("--custom-units", "0"), "--custom-units must be from 1 to"),
        (("--price-on-demand-input", "0"), "--price-on-demand-input must be a price in USD"),
        (("--price-on-demand-input", "nan"), "greater than 0, got nan"),
        (("--price-provisioned-hour", "inf"), "greater than 0, got inf"),
        (("--price-storage-month", "-1"), "greater than 0, got -1.0"),
    ],
)
def test_compare_costs_refuses_numbers_it_cannot_compute_with(
    extra: tuple[str, ...], message: str
) -> None:
    code, out, err = run(*COMPARE, "--base-model", NOVA_LITE, *extra)
    assert code == 2 and out == ""
    assert message in error_line(err)


def test_compare_costs_never_shows_a_cost_above_zero_as_zero() -> None:
    code, out, _ = run(
        "compare-costs",
        "--requests-per-day",
        "1",
        "--input-tokens",
        "1",
        "--output-tokens",
        "0",
        "--days",
        "1",
        "--base-model",
        "amazon.nova-micro-v1:0:128k",
    )
    assert code == 0
    # 1 token / 1,000 x $0.000035 = $0.000000035.
    base_row = next(line for line in out.splitlines() if line.startswith("base model, on"))
    assert "$0.000000035" in base_row
    assert "$0.00 " not in out
