"""validate, estimate-cost, split, augment and prepare-rft: exit codes, human and JSON output,
files written, local and S3 inputs, the progress bar."""

from __future__ import annotations

import io
import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from lambda_handlers.cli import data_commands, main
from tests.cli.helpers import ESCAPE, error_line, run
from tests.factories import conversation_records, jsonl
from tests.graders.test_prepare_rft import LINES, records, write_lines

NOVA = "amazon.nova-lite-v1:0:300k"
TITAN = "amazon.titan-text-express-v1:0:8k"


class Tty(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_bytes(jsonl(conversation_records(20)))
    return path


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    records = conversation_records(20)
    records[3]["messages"][1]["role"] = "user"
    path = tmp_path / "bad.jsonl"
    path.write_bytes(jsonl(records))
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text(
        "".join(
            json.dumps({"prompt": f"q{i}", "completion": "yes" if i % 2 else "no"}) + "\n"
            for i in range(40)
        )
    )
    return path


@pytest.fixture
def pairs(tmp_path: Path) -> Path:
    return write_lines(tmp_path / "pairs.jsonl", LINES)


# --- validate ------------------------------------------------------------------------------


def test_valid_data_exits_0_with_a_short_summary(good: Path) -> None:
    code, out, err = run("validate", str(good), "--type", "FINE_TUNING", "--base-model", NOVA)
    assert code == 0, err
    assert "training: " in out and "20 records (20 usable)" in out
    assert out.strip().endswith("VALID")
    assert err == ""


def test_invalid_data_exits_1_naming_the_line(bad: Path) -> None:
    code, out, _ = run("validate", str(bad), "--type", "FINE_TUNING", "--base-model", NOVA)
    assert code == 1
    assert "role-order" in out and "training:4 $.messages[1].role" in out
    assert "INVALID" in out


def test_findings_are_a_plain_table_when_piped(bad: Path, good: Path) -> None:
    code, out, _ = run(
        "validate",
        str(bad),
        "--validation",
        str(good),
        "--type",
        "FINE_TUNING",
        "--base-model",
        NOVA,
    )
    assert code == 1
    assert ESCAPE not in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("SEVERITY"))
    assert lines[header].split() == ["SEVERITY", "FINDING", "COUNT", "FIRST", "AT", "MESSAGE"]
    assert set(lines[header + 1]) == {"-"}
    error_row, warning_row = lines[header + 2], lines[header + 3]
    assert error_row.split()[:3] == ["error", "role-order", "1"]
    assert "training:4 $.messages[1].role" in error_row
    assert warning_row.split()[:3] == ["warning", "leakage", "19"]
    # errors before warnings, the verdict last, nothing wider than the fixed piped width
    assert lines[-1].startswith("INVALID: fix the errors above (role-order)")
    assert all(line == line.rstrip() for line in lines)
    assert max(len(line) for line in lines) <= 200


def test_json_output_is_the_report(bad: Path, good: Path) -> None:
    code, out, _ = run(
        "validate",
        str(bad),
        "--validation",
        str(good),
        "--type",
        "FINE_TUNING",
        "--base-model",
        NOVA,
        "--json",
        "--max-examples",
        "1",
    )
    report = json.loads(out)
    assert code == 1
    assert report["errors"] == {"role-order": 1}
    assert report["warnings"]["leakage"] == 19
    assert len(report["examples"]["leakage"]) == 1


def test_s3_inputs_are_read_with_the_users_credentials(good: Path) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="datasets")
        s3.put_object(Bucket="datasets", Key="train.jsonl", Body=good.read_bytes())
        code, out, _ = run(
            "validate", "s3://datasets/train.jsonl", "--type", "FINE_TUNING", "--base-model", NOVA
        )
    assert code == 0
    assert "s3://datasets/train.jsonl: 20 records" in out


def test_an_unknown_model_points_at_the_models_command(good: Path) -> None:
    code, out, err = run(
        "validate", str(good), "--type", "FINE_TUNING", "--base-model", "no.such-model"
    )
    assert (code, out) == (2, "")
    assert error_line(err).endswith("(see: bedrock-customize models)")


def test_a_progress_bar_for_a_large_input_on_a_terminal(
    good: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data_commands, "PROGRESS_MIN_BYTES", good.stat().st_size)
    argv = ("validate", str(good), "--type", "FINE_TUNING", "--base-model", NOVA)
    code, out, err = run(*argv, stderr=Tty())
    assert code == 0
    assert "validating" in err and "100%" in err
    assert out.strip().endswith("VALID") and ESCAPE not in out  # stdout is still piped
    # The same file on a terminal under the threshold, or piped over it: no bar.
    _, _, piped = run(*argv)
    assert piped == ""
    monkeypatch.setattr(data_commands, "PROGRESS_MIN_BYTES", good.stat().st_size + 1)
    _, _, small = run(*argv, stderr=Tty())
    assert small == ""


def test_the_progress_threshold_is_16_mb() -> None:
    assert data_commands.PROGRESS_MIN_BYTES == 16 * 1024 * 1024


# --- estimate-cost -------------------------------------------------------------------------


def test_estimate_cost_says_it_is_an_estimate(tmp_path: Path) -> None:
    path = tmp_path / "pc.jsonl"
    path.write_bytes(jsonl([{"prompt": "a" * 290, "completion": "b" * 10}] * 40))  # 100 tokens each
    code, out, _ = run(
        "estimate-cost",
        str(path),
        "--type",
        "FINE_TUNING",
        "--base-model",
        "cohere.command-text-v14:7:4k",
        "--epochs",
        "3",
        "--json",
    )
    assert code == 0
    result = json.loads(out)
    assert result["estimate"]["tokens_per_epoch"] == 4000
    assert result["estimate"]["total_tokens"] == 12000
    assert result["estimate"]["training_usd"] == pytest.approx(12000 / 1000 * 0.004)
    assert "estimate" in result["estimate"]["disclaimer"].lower()
    code, out, _ = run(
        "estimate-cost", str(path), "--type", "FINE_TUNING", "--base-model", TITAN, "--epochs", "2"
    )
    assert code == 0 and out.startswith("ESTIMATE: 8,000 tokens")


def test_estimate_cost_of_invalid_data_says_to_validate_first(bad: Path) -> None:
    code, out, _ = run(
        "estimate-cost", str(bad), "--type", "FINE_TUNING", "--base-model", NOVA, "--epochs", "2"
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("ESTIMATE: ")
    assert lines[1].startswith("prices: ")
    assert lines[-1] == "note: the data has errors (role-order); run validate first."


# --- split -----------------------------------------------------------------------------------


def test_split_writes_files_next_to_the_input_and_prints_json(data: Path) -> None:
    code, out, _ = run("split", str(data), "--validation-fraction", "0.25", "--stratify", "--json")
    assert code == 0
    report = json.loads(out)
    assert (report["train"], report["validation"]) == (30, 10)
    assert report["labels"]["yes"]["validation"] == 5
    train = data.with_name("data.train.jsonl")
    validation = data.with_name("data.validation.jsonl")
    assert report["train_out"] == str(train)
    assert len(train.read_text().splitlines()) == 30
    assert len(validation.read_text().splitlines()) == 10


def test_split_human_output_is_one_short_line(data: Path, tmp_path: Path) -> None:
    train, validation = tmp_path / "t.jsonl", tmp_path / "v.jsonl"
    code, out, _ = run(
        "split",
        str(data),
        "--validation-fraction",
        "0.1",
        "--seed",
        "3",
        "--train-out",
        str(train),
        "--validation-out",
        str(validation),
    )
    assert code == 0
    assert out.count("\n") == 1
    assert f"36 records -> {train}, 4 -> {validation}" in out
    assert "seed 3" in out


def test_split_of_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    code, out, err = run("split", str(tmp_path / "absent.jsonl"), "--validation-fraction", "0.2")
    assert code == 2
    assert "absent.jsonl" in error_line(err)
    assert out == ""


@pytest.mark.parametrize("fraction", ["0", "1", "1.5", "-0.2", "nan"])
def test_split_with_a_bad_fraction_is_a_usage_error(data: Path, fraction: str) -> None:
    code, out, err = run("split", str(data), "--validation-fraction", fraction, "--json")
    assert code == 2
    assert "validation_fraction" in error_line(err)
    assert out == ""
    assert not data.with_name("data.train.jsonl").exists()


def test_split_onto_its_own_input_is_a_usage_error(data: Path) -> None:
    before = data.read_bytes()
    code, _, err = run("split", str(data), "--validation-fraction", "0.2", "--train-out", str(data))
    assert code == 2
    assert "same file" in error_line(err)
    assert data.read_bytes() == before


def test_arguments_argparse_cannot_parse_exit_with_2(data: Path) -> None:
    code, out, err = run("split", str(data), "--validation-fraction", "a fifth")
    assert code == 2
    assert "invalid float value: 'a fifth'" in error_line(err)
    assert out == ""


def test_a_full_disk_exits_3_with_one_line_naming_the_fix(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device", "data.train.jsonl")

    monkeypatch.setattr(data_commands, "split_jsonl", disk_full)
    code, out, err = run("split", str(data), "--validation-fraction", "0.2")
    assert (code, out) == (3, "")
    assert error_line(err) == (
        "error: data.train.jsonl: no space left on device; free some space or write elsewhere"
    )


# --- augment ---------------------------------------------------------------------------------


def test_augment_writes_and_prints_json(data: Path) -> None:
    code, out, _ = run("augment", str(data), "--factor", "3", "--seed", "2", "--json")
    report = json.loads(out)
    assert code == 0
    assert (report["augmented"], report["lines_written"]) == (40, 120)
    written = data.with_name("data.augmented.jsonl")
    assert report["out"] == str(written)
    assert len(written.read_text().splitlines()) == 120


def test_augment_human_output_warns_about_near_duplicates(data: Path, tmp_path: Path) -> None:
    code, out, _ = run("augment", str(data), "--factor", "2", "--out", str(tmp_path / "x.jsonl"))
    assert code == 0
    assert "80 lines" in out
    assert "deduplicate" in out


@pytest.mark.parametrize("factor", ["0", "21"])
def test_augment_factor_out_of_bounds_is_a_usage_error(data: Path, factor: str) -> None:
    code, _, err = run("augment", str(data), "--factor", factor)
    assert code == 2
    assert "factor must be an integer from 1 to 20" in error_line(err)


def test_augment_of_a_directory_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run("augment", str(tmp_path), "--factor", "2")
    assert code == 2
    error_line(err)


# --- prepare-rft -----------------------------------------------------------------------------


def test_prepare_rft_writes_next_to_the_input_and_prints_json(pairs: Path) -> None:
    code, out, _ = run("prepare-rft", str(pairs), "--json")
    assert code == 0
    report = json.loads(out)
    written = pairs.with_name("pairs.rft.jsonl")
    assert report["out"] == str(written)
    assert report["written"] == 4
    assert len(records(written)) == 4


def test_prepare_rft_human_output_is_one_line_with_the_warnings(
    pairs: Path, tmp_path: Path
) -> None:
    target = tmp_path / "chosen.jsonl"
    code, printed, _ = run("prepare-rft", str(pairs), "--out", str(target))
    assert code == 0
    assert printed.count("\n") == 1
    assert f"4 RFT records -> {target}" in printed
    assert "6 invalid pairs skipped, first on line 4: not a JSON object" in printed
    assert "1 pair with identical chosen and rejected answers" in printed
    assert "Bedrock RFT needs 100 to 20000 records" in printed


@pytest.mark.parametrize("case", ["missing", "directory", "same-as-source", "no-valid-pair"])
def test_prepare_rft_usage_errors_exit_2_with_one_line(
    case: str, pairs: Path, tmp_path: Path
) -> None:
    argv = {
        "missing": [str(tmp_path / "absent.jsonl")],
        "directory": [str(tmp_path)],
        "same-as-source": [str(pairs), "--out", str(pairs)],
        "no-valid-pair": [str(write_lines(tmp_path / "bad.jsonl", ["nope"]))],
    }[case]
    code, _, err = run("prepare-rft", *argv)
    assert code == 2
    assert len(err.splitlines()) == 1
    assert err.startswith("error: ")


def test_prepare_rft_argument_errors_exit_2() -> None:
    code, _, err = run("prepare-rft")
    assert code == 2
    assert "the following arguments are required: PAIRS" in error_line(err)


def test_prepare_rft_is_a_bedrock_customize_command(
    pairs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prepare-rft", str(pairs), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["written"] == 4
    assert main(["prepare-rft"]) == 2
