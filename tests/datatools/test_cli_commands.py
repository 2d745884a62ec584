"""The split, augment and models subcommands: exit codes, files, and JSON that parses."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from lambda_handlers.common.catalogue import models
from lambda_handlers.datatools.cli_commands import register


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="bedrock-customize")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


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


def error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    return lines[0]


def test_split_writes_files_next_to_the_input_and_prints_json(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run("split", str(data), "--validation-fraction", "0.25", "--stratify", "--json")
    out = capsys.readouterr().out
    assert code == 0
    report = json.loads(out)
    assert (report["train"], report["validation"]) == (30, 10)
    assert report["labels"]["yes"]["validation"] == 5
    train = data.with_name("data.train.jsonl")
    validation = data.with_name("data.validation.jsonl")
    assert report["train_out"] == str(train)
    assert len(train.read_text().splitlines()) == 30
    assert len(validation.read_text().splitlines()) == 10


def test_split_human_output_is_one_short_line(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, validation = tmp_path / "t.jsonl", tmp_path / "v.jsonl"
    code = run(
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
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("\n") == 1
    assert f"36 records -> {train}, 4 -> {validation}" in out
    assert "seed 3" in out


def test_split_of_a_missing_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run("split", str(tmp_path / "absent.jsonl"), "--validation-fraction", "0.2")
    captured = capsys.readouterr()
    assert code == 2
    assert "absent.jsonl" in error_line(captured.err)
    assert captured.out == ""


@pytest.mark.parametrize("fraction", ["0", "1", "1.5", "-0.2", "nan"])
def test_split_with_a_bad_fraction_is_a_usage_error(
    data: Path, fraction: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run("split", str(data), "--validation-fraction", fraction, "--json")
    captured = capsys.readouterr()
    assert code == 2
    assert "validation_fraction" in error_line(captured.err)
    assert captured.out == ""
    assert not data.with_name("data.train.jsonl").exists()


def test_split_onto_its_own_input_is_a_usage_error(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = data.read_bytes()
    code = run("split", str(data), "--validation-fraction", "0.2", "--train-out", str(data))
    assert code == 2
    assert "same file" in error_line(capsys.readouterr().err)
    assert data.read_bytes() == before


def test_arguments_argparse_cannot_parse_exit_with_2(data: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        run("split", str(data), "--validation-fraction", "a fifth")
    assert caught.value.code == 2


def test_augment_writes_and_prints_json(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run("augment", str(data), "--factor", "3", "--seed", "2", "--json")
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (report["augmented"], report["lines_written"]) == (40, 120)
    out = data.with_name("data.augmented.jsonl")
    assert report["out"] == str(out)
    assert len(out.read_text().splitlines()) == 120


def test_augment_human_output_warns_about_near_duplicates(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run("augment", str(data), "--factor", "2", "--out", str(tmp_path / "x.jsonl"))
    out = capsys.readouterr().out
    assert code == 0
    assert "80 lines" in out
    assert "deduplicate" in out


@pytest.mark.parametrize("factor", ["0", "21"])
def test_augment_factor_out_of_bounds_is_a_usage_error(
    data: Path, factor: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run("augment", str(data), "--factor", factor)
    assert code == 2
    assert "factor must be an integer from 1 to 20" in error_line(capsys.readouterr().err)


def test_augment_of_a_directory_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run("augment", str(tmp_path), "--factor", "2")
    assert code == 2
    error_line(capsys.readouterr().err)


def test_models_json_lists_every_catalogued_model(capsys: pytest.CaptureFixture[str]) -> None:
    code = run("models", "--json")
    rows = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {row["model_id"] for row in rows} == set(models())


def test_models_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    code = run("models")
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("MODEL")
    assert all(model_id in out for model_id in models())


def test_every_subcommand_sets_func_and_handler_to_the_same_function() -> None:
    parser = argparse.ArgumentParser(prog="bedrock-customize")
    register(parser.add_subparsers(dest="command", required=True))
    for argv in (
        ["split", "f", "--validation-fraction", "0.1"],
        ["augment", "f", "--factor", "2"],
        ["models"],
    ):
        args = parser.parse_args(argv)
        assert args.func is args.handler
        assert args.func.__name__ == f"cmd_{argv[0]}"
