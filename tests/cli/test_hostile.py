"""Every command against hostile inputs and environments: the exit code, one line on stderr that
names the cause and the fix, no traceback, and no input or unrelated file changed.

What only a real process shows (a closed pipe, Ctrl-C, no credentials, no network, what the
interpreter does at exit) runs ``python -m lambda_handlers.cli`` as a user would, several
processes at once; the rest runs in-process, which is faster.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambda_handlers.cli import data_commands
from tests.cli.helpers import error_line, run
from tests.factories import conversation_records, jsonl

NOVA = "amazon.nova-lite-v1:0:300k"
TITAN = "amazon.titan-text-express-v1:0:8k"
EXECUTION_ARN = "arn:aws:states:us-east-1:111122223333:execution:BedrockCustomization:run-1"
TARGET_ARN = "arn:aws:bedrock:us-east-1:111122223333:custom-model-deployment/abcdef123456"
MODEL_ARN = "arn:aws:bedrock:us-east-1:111122223333:custom-model/abc"
ROOT = Path(__file__).resolve().parents[2]
EXIT_CODES = "exit codes: 0 valid or done; 1 invalid data"


def snapshot(folder: Path) -> dict[str, tuple[str, bytes | str]]:
    """Every entry under ``folder``: its kind and its bytes (a symlink: where it points)."""
    entries: dict[str, tuple[str, bytes | str]] = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_symlink():
            entries[name] = ("link", os.readlink(path))
        elif path.is_fifo():
            entries[name] = ("fifo", b"")
        elif path.is_file():
            entries[name] = ("file", path.read_bytes())
        else:
            entries[name] = ("dir", b"")
    return entries


def changed(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


def pc_lines(n: int) -> bytes:
    return b"".join(
        json.dumps({"prompt": f"question {i}", "completion": f"answer {i}"}).encode() + b"\n"
        for i in range(n)
    )


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A folder with a prompt/completion file, preference pairs, and a bystander file."""
    (tmp_path / "data.jsonl").write_bytes(pc_lines(40))
    (tmp_path / "pairs.jsonl").write_bytes(
        b"".join(
            json.dumps({"prompt": f"p{i}", "chosen": "good", "rejected": "bad"}).encode() + b"\n"
            for i in range(10)
        )
    )
    (tmp_path / "bystander.txt").write_text("not to be touched\n")
    return tmp_path


# --- in-process: inputs --------------------------------------------------------------------

DATA_COMMANDS = {
    "validate": ["validate", "{in}", "--type", "FINE_TUNING", "--base-model", TITAN],
    "estimate-cost": [
        "estimate-cost",
        "{in}",
        "--type",
        "FINE_TUNING",
        "--base-model",
        TITAN,
        "--epochs",
        "1",
    ],
    "split": ["split", "{in}", "--validation-fraction", "0.2"],
    "augment": ["augment", "{in}", "--factor", "2"],
    "prepare-rft": ["prepare-rft", "{in}"],
}


def argv(command: str, source: Path | str, *extra: str) -> list[str]:
    return [a.replace("{in}", str(source)) for a in DATA_COMMANDS[command]] + list(extra)


@pytest.mark.parametrize("command", sorted(DATA_COMMANDS))
@pytest.mark.parametrize(
    ("kind", "code", "says"),
    [
        ("missing", 2, "no such file; check the path"),
        ("folder", 2, "is a folder, not a file"),
        ("fifo", 2, "is a named pipe (FIFO), not a file"),
        ("device", 2, "is a character device, not a file"),
        ("unreadable", 3, "input/output error"),
    ],
)
def test_an_input_that_is_not_a_readable_file_says_what_it_is(
    command: str, kind: str, code: int, says: str, work: Path
) -> None:
    source = {
        "missing": work / "absent.jsonl",
        "folder": work,
        "fifo": work / "pipe",
        "device": Path("/dev/null"),
        # Readable by its mode, even for root, but every read fails: an I/O error.
        "unreadable": Path("/proc/self/mem"),
    }[kind]
    if kind == "fifo":
        os.mkfifo(source)
    outputs = {
        "split": ["--train-out", str(work / "t.jsonl"), "--validation-out", str(work / "v.jsonl")],
        "augment": ["--out", str(work / "o.jsonl")],
        "prepare-rft": ["--out", str(work / "o.jsonl")],
    }
    before = snapshot(work)
    result = run(*argv(command, source, *outputs.get(command, [])))
    assert result[0] == code, result
    line = error_line(result[2])
    assert says in line and str(source) in line
    assert changed(before, snapshot(work)) == set()


@pytest.mark.parametrize("command", sorted(DATA_COMMANDS))
def test_a_file_without_read_permission_exits_3_naming_it(
    command: str, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tests may run as root, whom file modes do not stop: the refusal is simulated.
    source = work / "data.jsonl"
    real_open = Path.open
    before = snapshot(work)

    def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == source:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    monkeypatch.setattr(data_commands.os, "access", lambda path, mode: Path(path) != source)
    code, out, err = run(*argv(command, source))
    monkeypatch.undo()
    assert (code, out) == (3, "")
    assert error_line(err).startswith(f"error: {source}: permission denied; check its permissions")
    assert changed(before, snapshot(work)) == set()


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("empty.jsonl", b"", "empty-file"),
        ("blank.jsonl", b"\n \n\t\n", "empty-file"),
        ("bom.jsonl", b"\xef\xbb\xbf" + pc_lines(3), "file-encoding"),
        ("gz.jsonl", b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "file-encoding"),
        ("utf16.jsonl", pc_lines(3).decode().encode("utf-16"), "file-encoding"),
        (
            "deep.jsonl",
            b'{"prompt": ' + b"[" * 50_000 + b"]" * 50_000 + b"}\n",
            "too-deeply-nested",
        ),
        ("twice.jsonl", b'{"prompt": "a", "prompt": "b", "completion": "c"}\n', "duplicate-key"),
    ],
)
def test_validate_names_hostile_data_and_exits_1(
    name: str, data: bytes, code: str, work: Path
) -> None:
    (work / name).write_bytes(data)
    before = snapshot(work)
    exit_code, out, err = run(*argv("validate", work / name))
    assert (exit_code, err) == (1, "")
    assert code in out and "INVALID" in out
    assert changed(before, snapshot(work)) == set()


def test_validate_warns_on_near_duplicates_so_augments_advice_can_be_followed(work: Path) -> None:
    data = work / "data.jsonl"
    assert run("augment", str(data), "--factor", "2", "--out", str(work / "aug.jsonl"))[0] == 0
    (work / "aug.jsonl").write_bytes(
        (work / "aug.jsonl").read_bytes()
        + json.dumps({"prompt": "QUESTION 0!", "completion": "Answer 0."}).encode()
        + b"\n"
    )
    code, out, _ = run(*argv("validate", work / "aug.jsonl"), "--json")
    report = json.loads(out)
    assert code == 0, report["errors"]
    assert report["warnings"]["near-duplicate-record"] == 1


# --- in-process: outputs -------------------------------------------------------------------

WRITERS = {
    "split": (["split", "{in}", "--validation-fraction", "0.2", "--train-out"], "data.jsonl"),
    "augment": (["augment", "{in}", "--factor", "2", "--out"], "data.jsonl"),
    "prepare-rft": (["prepare-rft", "{in}", "--out"], "pairs.jsonl"),
}


def writer(command: str, work: Path, target: str | Path, *extra: str) -> list[str]:
    words, source = WRITERS[command]
    return [w.replace("{in}", str(work / source)) for w in words] + [str(target), *extra]


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_an_existing_output_is_refused_without_force_and_replaced_with_it(
    command: str, work: Path
) -> None:
    target = work / "out.jsonl"
    target.write_text("precious\n")
    before = snapshot(work)
    code, out, err = run(*writer(command, work, target))
    assert (code, out) == (2, "")
    assert "exists; pass --force to replace it" in error_line(err)
    assert changed(before, snapshot(work)) == set()
    code, _, err = run(*writer(command, work, target, "--force"))
    assert code == 0, err
    assert target.read_text() != "precious\n"


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_a_symlink_output_is_written_through_and_stays_a_link(command: str, work: Path) -> None:
    real = work / "real.jsonl"
    real.write_text("old\n")
    link = work / "link.jsonl"
    link.symlink_to(real)
    assert run(*writer(command, work, link))[0] == 2, "the file it points to exists"
    code, _, err = run(*writer(command, work, link, "--force"))
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() != "old\n" and real.read_text().startswith("{")


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_dash_writes_the_data_to_stdout_and_the_summary_to_stderr(command: str, work: Path) -> None:
    before = snapshot(work)
    extra = ("--validation-out", str(work / "val.jsonl")) if command == "split" else ()
    code, out, err = run(*writer(command, work, "-", *extra))
    assert code == 0, err
    assert all(json.loads(line) for line in out.splitlines()), "stdout holds only the data"
    assert "-> -" in err
    expected = {"val.jsonl"} if command == "split" else set()
    assert changed(before, snapshot(work)) == expected


def test_split_takes_one_dash_only(work: Path) -> None:
    code, _, err = run(
        "split", str(work / "data.jsonl"), "--validation-fraction", "0.2",
        "--train-out", "-", "--validation-out", "-",
    )  # fmt: skip
    assert code == 2 and "only one of --train-out and --validation-out can be -" in err


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_a_device_output_is_written_through_without_force(command: str, work: Path) -> None:
    before = snapshot(work)
    extra = ("--validation-out", "/dev/null") if command == "split" else ()
    code, _, err = run(*writer(command, work, "/dev/null", *extra))
    assert code == 0, err
    assert Path("/dev/null").is_char_device()
    assert changed(before, snapshot(work)) == set()


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_a_full_device_exits_3_naming_it(command: str, work: Path) -> None:
    before = snapshot(work)
    code, out, err = run(*writer(command, work, "/dev/full"))
    assert (code, out) == (3, "")
    assert error_line(err).startswith(
        "error: /dev/full: no space left on device; free some space or write elsewhere"
    )
    assert changed(before, snapshot(work)) == set()


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_a_read_only_target_exits_3_and_never_names_a_temporary_file(
    command: str, work: Path
) -> None:
    target = Path("/sys/bedrock-customize-test.jsonl")  # sysfs: no new file, even for root
    before = snapshot(work)
    code, out, err = run(*writer(command, work, target))
    assert (code, out) == (3, "")
    line = error_line(err)
    assert line.startswith(f"error: {target}: ") and "choose another path" in line
    assert ".tmp" not in line
    assert changed(before, snapshot(work)) == set()


@pytest.mark.parametrize(
    ("where", "says"), [("no/such/out.jsonl", "no such folder"), (".", "is a folder")]
)
def test_an_output_in_a_missing_folder_or_that_is_a_folder_is_a_usage_error(
    where: str, says: str, work: Path
) -> None:
    before = snapshot(work)
    code, _, err = run(*writer("augment", work, work / where))
    assert code == 2 and says in error_line(err)
    assert changed(before, snapshot(work)) == set()


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_a_failure_while_committing_names_the_output_and_leaves_nothing(
    command: str, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambda_handlers.datatools import _jsonl

    def full(source: object, target: object) -> None:
        raise OSError(28, "No space left on device", str(source))

    monkeypatch.setattr(_jsonl.os, "replace", full)
    before = snapshot(work)
    code, out, err = run(*writer(command, work, work / "out.jsonl"))
    assert (code, out) == (3, "")
    line = error_line(err)
    assert line.startswith(f"error: {work / 'out.jsonl'}: no space left on device")
    assert ".tmp" not in line
    assert changed(before, snapshot(work)) == set(), "no output, no temporary file"


def test_an_s3_uri_without_a_key_is_a_usage_error() -> None:
    code, _, err = run(*argv("validate", "s3://bucket-only"))
    assert code == 2 and "write it as s3://bucket/key.jsonl" in error_line(err)


# --- in-process: records that cannot be written back ---------------------------------------

BAD_RECORDS = [
    b'{"prompt": "lone \\ud800 surrogate", "completion": "x", "chosen": "a", "rejected": "b"}',
    b'{"prompt": "huge", "completion": 1e400, "chosen": "a", "rejected": "b", "score": 1e400}',
]


def test_augment_skips_a_record_it_cannot_write_and_goes_on(work: Path) -> None:
    source = work / "mixed.jsonl"
    source.write_bytes(pc_lines(2) + b"\n".join(BAD_RECORDS) + b"\n" + pc_lines(3))
    code, out, err = run("augment", str(source), "--factor", "2", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["skipped"] == 2
    assert [(s["line"], s["reason"][:14]) for s in report["skipped_examples"]] == [
        (3, "text with a lo"),
        (4, "a number out o"),
    ]
    written = (work / "mixed.augmented.jsonl").read_text().splitlines()
    assert len(written) == 2 * 5 and all(json.loads(line) for line in written)
    code, out, _ = run("augment", str(source), "--factor", "2", "--out", "-")
    assert code == 0


def test_prepare_rft_skips_what_it_cannot_write_and_writes_a_pair_once(work: Path) -> None:
    pair = json.dumps({"prompt": "p", "chosen": "good", "rejected": "bad"}).encode()
    source = work / "mixed.jsonl"
    source.write_bytes(b"\n".join([pair, *BAD_RECORDS, pair, pair]) + b"\n")
    code, out, err = run("prepare-rft", str(source), "--out", str(work / "rft.jsonl"))
    assert code == 0, err
    assert "2 invalid pairs skipped, first on line 2: text with a lone surrogate" in out
    assert "2 repeated pairs written once, first on line 4 (same as line 1)" in out
    assert len((work / "rft.jsonl").read_text().splitlines()) == 1


# --- in-process: AWS and bugs --------------------------------------------------------------


def test_an_s3_object_that_cannot_be_read_exits_3(work: Path) -> None:
    from moto import mock_aws

    with mock_aws():
        import boto3

        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="hostile-tests")
        code, out, err = run(*argv("validate", "s3://hostile-tests/missing.jsonl"))
    assert (code, out) == (3, "")
    assert "the S3 object or bucket cannot be read: check the s3:// URI" in error_line(err)


def test_an_unexpected_error_is_one_line_and_exit_70(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something no one expected")

    monkeypatch.setattr(data_commands, "augment_jsonl", broken)
    code, out, err = run("augment", str(work / "data.jsonl"), "--factor", "2")
    assert (code, out) == (70, "")
    line = error_line(err)
    assert "RuntimeError: something no one expected" in line and "bug" in line


# --- --help --------------------------------------------------------------------------------

COMMANDS = (
    "validate",
    "estimate-cost",
    "split",
    "augment",
    "prepare-rft",
    "models",
    "compare-costs",
    "cleanup",
    "promote",
    "start",
    "status",
    "watch",
    "list",
    "stop",
    "report",
)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_help_says_what_the_command_does_and_its_exit_codes(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from lambda_handlers.cli import main

    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    description = text.split("\n\n")[1]
    assert len(description.split()) >= 8, "a sentence on what it does"
    assert EXIT_CODES in " ".join(text.split())
    assert f"bedrock-customize {command}" in text.split("examples:")[1]


def test_cleanup_help_says_it_deletes_and_shows_dry_run_first(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from lambda_handlers.cli import main

    assert main(["cleanup", "--help"]) == 0
    text = capsys.readouterr().out
    assert "DELETES" in text and "cannot be undone" in text
    examples = [line.strip() for line in text.split("examples:")[1].splitlines() if line.strip()]
    assert examples[0].startswith("bedrock-customize cleanup") and examples[0].endswith("--dry-run")


# --- real processes ------------------------------------------------------------------------


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "lambda_handlers.cli", *args]


def no_aws_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent/credentials",
        AWS_CONFIG_FILE="/nonexistent/config",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_MAX_ATTEMPTS="1",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


OFFLINE = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # the discard port: connection refused
}


@pytest.fixture(scope="module")
def processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Every real-process case, started at once and collected: name -> (code, stderr, folder)."""
    work = tmp_path_factory.mktemp("processes")
    big = work / "big.jsonl"
    big.write_bytes(pc_lines(20_000))  # its augmented copy is far larger than a pipe holds
    (work / "conv.jsonl").write_bytes(jsonl(conversation_records(20)))
    cases = {
        "no-credentials-validate": (
            cli("validate", "s3://b/k.jsonl", "--type", "FINE_TUNING", "--base-model", TITAN),
            no_aws_env(),
        ),
        "no-credentials-cleanup": (cli("cleanup", EXECUTION_ARN, "--dry-run"), no_aws_env()),
        "no-credentials-promote": (
            cli("promote", "--target", TARGET_ARN, "--model", MODEL_ARN),
            no_aws_env(),
        ),
        "no-network-validate": (
            cli("validate", "s3://b/k.jsonl", "--type", "FINE_TUNING", "--base-model", TITAN),
            no_aws_env(**OFFLINE),
        ),
        "no-network-cleanup": (
            cli("cleanup", EXECUTION_ARN, "--dry-run"),
            no_aws_env(**OFFLINE),
        ),
    }
    started = {
        name: subprocess.Popen(
            args,
            env=env,
            cwd=work,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name, (args, env) in cases.items()
    }
    results = {}
    for name, process in started.items():
        out, err = process.communicate(timeout=120)
        results[name] = (process.returncode, err.decode(), out.decode())
    yield {"results": results, "work": work}


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("no-credentials-validate", "no usable AWS credentials; configure them"),
        ("no-credentials-cleanup", "no usable AWS credentials; configure them"),
        ("no-credentials-promote", "no usable AWS credentials; configure them"),
        ("no-network-validate", "cannot reach AWS"),
        ("no-network-cleanup", "cannot reach AWS"),
    ],
)
def test_no_credentials_and_no_network_exit_3_with_one_line(
    processes: dict[str, Any], case: str, says: str
) -> None:
    code, err, out = processes["results"][case]
    assert "Traceback" not in err
    assert (code, out) == (3, "")
    assert says in error_line(err)


def closed_pipe_run(args: list[str], cwd: Path, read_first: int = 0) -> tuple[int, str]:
    """Run with stdout a pipe whose reader reads ``read_first`` bytes, then closes it."""
    reader, writer_fd = os.pipe()
    if not read_first:
        os.close(reader)  # closed before the command writes anything: `| grep -q` at once
    process = subprocess.Popen(
        args, cwd=cwd, stdout=writer_fd, stderr=subprocess.PIPE, env=no_aws_env()
    )
    os.close(writer_fd)
    if read_first:
        os.read(reader, read_first)
        os.close(reader)  # `| head -c N`
    _, err = process.communicate(timeout=120)
    return process.returncode, err.decode()


@pytest.mark.parametrize(
    ("args", "read_first"),
    [
        (["models"], 0),
        (["--help"], 0),
        (["validate", "conv.jsonl", "--type", "FINE_TUNING", "--base-model", NOVA, "--json"], 0),
        (["augment", "big.jsonl", "--factor", "20", "--out", "-"], 100),
    ],
    ids=["models", "help", "validate-json", "augment-to-head"],
)
def test_a_reader_that_closes_the_pipe_ends_the_command_quietly(
    processes: dict[str, Any], args: list[str], read_first: int
) -> None:
    work = processes["work"]
    before = snapshot(work)
    code, err = closed_pipe_run(cli(*args), work, read_first)
    # argparse drops help it cannot write (and exits 0); every command's own output ends 141.
    assert (code, err) == (0 if args == ["--help"] else 141, "")
    assert changed(before, snapshot(work)) == set()


def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_an_interrupt_exits_130_and_leaves_no_half_written_file(
    processes: dict[str, Any], tmp_path: Path
) -> None:
    work = tmp_path
    (work / "big.jsonl").write_bytes(processes["work"].joinpath("big.jsonl").read_bytes())
    fifo = work / "validation.fifo"
    os.mkfifo(fifo)
    before = snapshot(work)
    process = subprocess.Popen(
        cli(
            "split", "big.jsonl", "--validation-fraction", "0.5",
            "--train-out", "train.jsonl", "--validation-out", str(fifo),
        ),
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=no_aws_env(),
        # A shell's background job starts with SIGINT ignored, and Python then installs no
        # KeyboardInterrupt handler: the command gets the default a terminal gives it.
        preexec_fn=_interruptible,
    )  # fmt: skip
    # Reading from the FIFO proves the command is writing; it then blocks on the full pipe.
    with fifo.open("rb") as pipe:
        assert pipe.read(100)
        process.send_signal(signal.SIGINT)
        drained = threading.Thread(target=pipe.read, daemon=True)
        drained.start()
        _, err = process.communicate(timeout=120)
    assert process.returncode == 130
    assert error_line(err.decode()) == (
        "error: interrupted; no output was left half-written: run the command again"
    )
    assert changed(before, snapshot(work)) == set(), "no train.jsonl, no temporary file"
