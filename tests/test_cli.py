"""``bedrock-customize``: exit codes, human and JSON output, local and S3 inputs."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from lambda_handlers.cli import Progress, main
from tests.factories import conversation_records, jsonl

NOVA = "amazon.nova-lite-v1:0:300k"
TITAN = "amazon.titan-text-express-v1:0:8k"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


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


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "missing.jsonl", "--type", "FINE_TUNING", "--base-model", NOVA],
        ["validate", "{good}", "--type", "FINE_TUNING", "--base-model", "no.such-model"],
        ["validate", "{good}", "--type", "CONTINUED_PRE_TRAINING", "--base-model", NOVA],
        ["validate", "{good}", "--type", "DPO", "--base-model", NOVA],
        ["validate", "{good}", "--type", "FINE_TUNING"],
        [
            "validate",
            "{good}",
            "--type",
            "FINE_TUNING",
            "--base-model",
            NOVA,
            "--max-examples",
            "-1",
        ],
        ["estimate-cost", "{good}", "--type", "FINE_TUNING", "--base-model", NOVA, "--epochs", "0"],
        [],
    ],
)
def test_usage_errors_exit_2_with_one_line(argv: list[str], good: Path) -> None:
    code, out, err = run(*[a.replace("{good}", str(good)) for a in argv])
    assert code == 2
    assert out == ""
    assert err.strip(), "says what is wrong"


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


def test_progress_bar_only_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    piped, tty = io.StringIO(), Tty()
    for stream in (piped, tty):
        bar = Progress(64 * 1024 * 1024, stream)
        bar._last = -1.0
        bar(32 * 1024 * 1024)
        bar.close()
    assert piped.getvalue() == ""
    assert "50%" in tty.getvalue()


def test_the_console_script_is_installed(good: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lambda_handlers.cli",
            "validate",
            str(good),
            "--type",
            "FINE_TUNING",
            "--base-model",
            NOVA,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "VALID" in result.stdout
