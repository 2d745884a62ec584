"""A prices file the user gives: what it may hold, what is refused (with the file, the JSON path
and what is allowed), how its figures replace the shipped ones, and the stack's carrier."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lambda_handlers.datatools.compare_costs import load_on_demand, with_given_on_demand
from lambda_handlers.datatools.price_file import (
    ENVIRONMENT_BUDGET,
    ENVIRONMENT_VARIABLE,
    PriceFileError,
    parse_price_file,
    prices_from_environment,
    read_price_file,
    training_prices_document,
    training_prices_environment,
    with_given,
)
from lambda_handlers.datatools.pricing import (
    BYTES_PER_TOKEN,
    estimate_training_cost,
    load_prices,
    prices_for,
    usd_text,
)
from lambda_handlers.validation import tokens

NOVA_LITE = "amazon.nova-lite-v1:0:300k"
LLAMA = "meta.llama3-1-8b-instruct-v1:0:128k"


def document(**entry: Any) -> str:
    return json.dumps({"models": {NOVA_LITE: entry}})


def test_a_training_price_for_nova_replaces_the_missing_figure_and_is_cited() -> None:
    given = parse_price_file(
        document(trainingUsdPer1kTokens=0.002, source="our agreement", asOf="2026-10-01"),
        "negotiated.json",
    )
    table = with_given(load_prices(), given)
    estimate = estimate_training_cost(NOVA_LITE, 10_000, 2, prices=table)
    assert estimate.training_usd == 0.04  # 20,000 tokens / 1,000 x $0.002
    assert (estimate.source, estimate.checked) == ("our agreement", "2026-10-01")
    assert estimate_training_cost(NOVA_LITE, 10_000, 2).training_usd is None, "shipped unchanged"


def test_a_given_figure_replaces_only_itself_and_keeps_the_others_sources() -> None:
    given = parse_price_file(
        json.dumps({"models": {LLAMA: {"storageUsdPerMonth": 1.5}}}), "mine.json"
    )
    prices = prices_for(LLAMA, prices=with_given(load_prices(), given))
    assert prices.storage_usd_per_month == 1.5
    assert prices.source_of("storage_usd_per_month") == ("prices file mine.json", "")
    assert prices.training_usd_per_1k_tokens == 0.00149
    assert prices.source_of("training_usd_per_1k_tokens")[1] == "2026-07-24"


def test_null_keeps_the_shipped_figure() -> None:
    given = parse_price_file(
        json.dumps({"models": {LLAMA: {"trainingUsdPer1kTokens": None}}}), "f.json"
    )
    assert prices_for(
        LLAMA, prices=with_given(load_prices(), given)
    ).training_usd_per_1k_tokens == (0.00149)


def test_on_demand_figures_replace_the_on_demand_table() -> None:
    given = parse_price_file(
        json.dumps({"onDemandInference": {"models": {LLAMA: {"inputUsdPer1kTokens": 0.00022}}}}),
        "od.json",
    )
    entry = with_given_on_demand(load_on_demand(), given).models[LLAMA]
    assert entry.input_usd_per_1k_tokens == 0.00022
    assert entry.source_of("input_usd_per_1k_tokens") == ("prices file od.json", "")
    assert entry.output_usd_per_1k_tokens is None


def test_the_shipped_file_itself_is_a_valid_prices_file() -> None:
    text = (Path(__file__).parents[2] / "lambda_handlers/data/prices.json").read_text("utf-8")
    given = parse_price_file(text, "prices.json")
    assert set(given.training_models()) == {
        m for m, p in load_prices().models.items() if p.training_usd_per_1k_tokens is not None
    }


BAD_FILES = [
    (
        document(trainingUsdPer1kTokens=-1),
        '$.models["amazon.nova-lite-v1:0:300k"].trainingUsdPer1kTokens',
        "a number of US dollars above 0",
    ),
    (document(trainingUsdPer1kTokens=0), ".trainingUsdPer1kTokens", "write null"),
    (document(trainingUsdPer1kTokens="0.002"), ".trainingUsdPer1kTokens", 'got "0.002"'),
    (document(trainingUsdPer1kTokens=True), ".trainingUsdPer1kTokens", "got true"),
    (
        '{"models": {"NOVA": {"trainingUsdPer1kTokens": NaN}}}'.replace("NOVA", NOVA_LITE),
        ".trainingUsdPer1kTokens",
        "got NaN",
    ),
    (
        '{"models": {"NOVA": {"storageUsdPerMonth": Infinity}}}'.replace("NOVA", NOVA_LITE),
        ".storageUsdPerMonth",
        "got Infinity",
    ),
    (
        '{"models": {"NOVA": {"storageUsdPerMonth": 1e999}}}'.replace("NOVA", NOVA_LITE),
        ".storageUsdPerMonth",
        "got Infinity",
    ),
    (
        document(provisionedThroughputUsdPerModelUnitHour={"noCommitment": -2}),
        ".provisionedThroughputUsdPerModelUnitHour.noCommitment",
        "above 0",
    ),
    (
        document(provisionedThroughputUsdPerModelUnitHour={"twoMonths": 2}),
        ".provisionedThroughputUsdPerModelUnitHour.twoMonths",
        "allowed here: noCommitment, oneMonth, sixMonths",
    ),
    (
        document(trainingUsdPer1KTokens=0.002),
        ".trainingUsdPer1KTokens",
        'unknown key "trainingUsdPer1KTokens"',
    ),
    (
        json.dumps({"models": {"amazon.nova-lite-v1:0": {}}}),
        '$.models["amazon.nova-lite-v1:0"]',
        "known models: amazon.nova-micro-v1:0:128k",
    ),
    (
        json.dumps({"models": {f"arn:aws:bedrock:us-east-1::foundation-model/{NOVA_LITE}": {}}}),
        "$.models[",
        f'write it as the catalogue\'s ID "{NOVA_LITE}"',
    ),
    (
        '{"models": {"NOVA": {"trainingUsdPer1kTokens": 1, "trainingUsdPer1kTokens": 2}}}'.replace(
            "NOVA", NOVA_LITE
        ),
        ".trainingUsdPer1kTokens",
        "given twice",
    ),
    (
        json.dumps({"models": {NOVA_LITE: {}}, "currency": "EUR"}),
        "$.currency",
        'allowed: "USD"',
    ),
    (json.dumps({"prices": {}}), "$.prices", "unknown key"),
    (json.dumps({"about": "nothing"}), "$", 'no "models"'),
    (json.dumps([1, 2]), "$", "expected a JSON object"),
    ('{"models": {', "line 1 column 13", "not JSON"),
    (document(source=5), ".source", "a string"),
]
"""(the file's text, the JSON path named, what the message says is allowed)"""


@pytest.mark.parametrize(("text", "path", "allowed"), BAD_FILES)
def test_a_bad_prices_file_is_refused_with_the_file_the_path_and_what_is_allowed(
    text: str, path: str, allowed: str
) -> None:
    with pytest.raises(PriceFileError) as refused:
        parse_price_file(text, "bad.json")
    message = str(refused.value)
    assert message.startswith("prices file bad.json: at ")
    assert path in message
    assert allowed in message
    assert "\n" not in message


def test_a_file_that_is_not_utf8_is_named_so(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_bytes(b'{"models": {"\xff": {}}}')
    with pytest.raises(PriceFileError, match=r"at byte 13: not UTF-8"):
        read_price_file(path)


def test_a_byte_order_mark_is_allowed(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_bytes(b"\xef\xbb\xbf" + document(trainingUsdPer1kTokens=0.002).encode())
    assert read_price_file(path).training_models() == [NOVA_LITE]


def test_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_price_file(tmp_path / "absent.json")


# --- the stack's carrier ---------------------------------------------------------------------


def test_the_environment_holds_only_training_figures_as_a_prices_file() -> None:
    given = parse_price_file(
        json.dumps(
            {
                "models": {
                    NOVA_LITE: {"trainingUsdPer1kTokens": 0.002, "source": "deal", "note": "x"},
                    LLAMA: {"storageUsdPerMonth": 1.0},
                }
            }
        ),
        "f.json",
    )
    environment = training_prices_environment(given)
    assert list(environment) == [ENVIRONMENT_VARIABLE]
    carried = json.loads(environment[ENVIRONMENT_VARIABLE])
    assert carried == {"models": {NOVA_LITE: {"trainingUsdPer1kTokens": 0.002, "source": "deal"}}}
    table = prices_from_environment(environment)
    assert prices_for(NOVA_LITE, prices=table).training_usd_per_1k_tokens == 0.002
    assert prices_from_environment({}) is load_prices()


def test_a_file_without_training_figures_sets_no_variable() -> None:
    given = parse_price_file(json.dumps({"models": {LLAMA: {"storageUsdPerMonth": 1.0}}}), "f")
    assert training_prices_environment(given) == {}
    assert training_prices_environment(None) == {}


def test_a_file_too_large_for_lambdas_environment_is_refused() -> None:
    entry = {"trainingUsdPer1kTokens": 0.002, "source": "s" * 999}
    given = parse_price_file(json.dumps({"models": {NOVA_LITE: entry, LLAMA: entry}}), "big.json")
    assert len(training_prices_document(given)) > ENVIRONMENT_BUDGET
    with pytest.raises(ValueError, match=r"prices file big\.json: .* 4 KB .* Shorten the source"):
        training_prices_environment(given)


# --- money as text, and the token estimate described ------------------------------------------


@pytest.mark.parametrize(
    ("usd", "text"),
    [
        (0.0, "$0.00"),
        (1234.567, "$1,234.57"),
        (0.01, "$0.01"),
        (0.00149, "$0.00149"),
        (0.0000000350, "$0.000000035"),
        (0.0012345678, "$0.00123"),
    ],
)
def test_small_amounts_keep_their_digits(usd: float, text: str) -> None:
    assert usd_text(usd) == text


def test_the_token_estimate_described_is_the_one_the_validator_uses() -> None:
    assert BYTES_PER_TOKEN == tokens.BYTES_PER_TOKEN
    assert tokens.estimate_tokens("a" * 300) == 300 // BYTES_PER_TOKEN
