"""checkov's CloudFormation checks on both synthesized templates.

checkov cannot share the test environment (its exact boto3 pin conflicts with ours; see
``checkov-requirements.txt``), so it runs in a virtual environment of its own, built from
that pinned file on first use and cached by its digest, as a subprocess. One run covers the
default template, the one with every option on, and a copy broken on purpose.

Every check must pass but three that do not apply to this control plane (``NOT_APPLICABLE``,
skipped here with the reason). A finding the stack accepts is acknowledged on the resource
itself (``Metadata.checkov.skip``, written by ``constructs_lib.nag.acknowledge_checkov``
next to the construct), as its cdk-nag acknowledgments are.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import venv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from constructs_lib.functions import cache_root
from tests.conftest import Synthesized

LOCK = Path(__file__).with_name("checkov-requirements.txt")

NOT_APPLICABLE = {
    "CKV_AWS_115": (
        "Reserved concurrency: the functions run a few times per execution, one state at a time; "
        "reserving concurrency would take capacity from the account's pool for nothing, and the "
        "state machine already retries a throttled invocation."
    ),
    "CKV_AWS_116": (
        "Dead-letter queue for asynchronous invocations: the state machine and Bedrock (graders) "
        "invoke the functions synchronously and handle every error themselves (each task's Retry "
        "and Catch); the abort cleanup's EventBridge rule has its own encrypted dead-letter queue."
    ),
    "CKV_AWS_117": (
        "VPC: the functions call only AWS APIs (Bedrock, S3, SNS, Step Functions, Scheduler) over "
        "TLS with IAM and reach no private resource; a VPC would add NAT or interface endpoints "
        "that cost money and isolate nothing."
    ),
}
# Acknowledged in the template, each next to its construct, with the reason there:
# check id -> the resource's logical id without CDK's hash.
ACKNOWLEDGED = {("CKV_AWS_18", "AWS::S3::Bucket.StorageAccessLogs")}


def checkov_python() -> Path:
    """The Python of checkov's own environment, built from ``LOCK`` once per lock digest."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    digest = hashlib.sha256(LOCK.read_bytes() + version.encode()).hexdigest()[:16]
    home = cache_root() / f"checkov-{digest}"
    if not (home / ".complete").exists():
        staging = home.with_name(f"{home.name}.tmp-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        venv.EnvBuilder(with_pip=True).create(staging)
        pip = [str(staging / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        subprocess.run([*pip, "install", "--quiet", "-r", str(LOCK)], check=True)
        (staging / ".complete").write_text("ok")
        if not (home / ".complete").exists():  # another test run may have finished first
            shutil.rmtree(home, ignore_errors=True)  # an interrupted build
            with contextlib.suppress(OSError):
                # The interpreter finds its pyvenv.cfg beside it: a moved venv still runs.
                staging.rename(home)
        shutil.rmtree(staging, ignore_errors=True)
    return home / "bin" / "python"


@dataclass
class Report:
    """checkov's verdict on one template: failed and in-template skipped checks."""

    failed: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def failures(self) -> list[str]:
        return sorted(f"{c['check_id']} {c['resource']} ({c['check_name']})" for c in self.failed)


def run_checkov(templates: dict[str, Path]) -> tuple[dict[str, Report], float]:
    """checkov's CloudFormation checks on ``templates`` (name -> path), in one run."""
    command = [str(checkov_python()), "-m", "checkov.main", "--framework", "cloudformation"]
    for path in templates.values():
        command += ["--file", str(path)]
    command += ["--skip-check", ",".join(NOT_APPLICABLE), "--output", "json", "--compact"]
    command += ["--skip-download"]  # offline: no policy metadata from the vendor's platform
    env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "LOG_LEVEL": "WARNING"}
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    elapsed = time.monotonic() - started
    assert done.returncode in (0, 1), f"checkov crashed ({done.returncode}): {done.stderr[-2000:]}"
    output = json.loads(done.stdout)
    assert output["summary"]["parsing_errors"] == 0, output["summary"]
    by_file = {Path(p).name: name for name, p in templates.items()}
    reports = {name: Report() for name in templates}
    for kind, checks in (("failed", "failed_checks"), ("skipped", "skipped_checks")):
        for check in output["results"][checks]:
            getattr(reports[by_file[Path(check["file_path"]).name]], kind).append(check)
    return reports, elapsed


@pytest.fixture(scope="module")
def checkov_reports(
    synthesized: Synthesized,
    synthesized_full: Synthesized,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Report]:
    folder = tmp_path_factory.mktemp("checkov")
    broken = copy.deepcopy(synthesized.template)
    del broken["Resources"][data_bucket(broken)]["Properties"]["PublicAccessBlockConfiguration"]
    del broken["Resources"][some_function(broken)]["Properties"]["KmsKeyArn"]
    templates = {
        "default": synthesized.template,
        "variant": synthesized_full.template,
        "broken": broken,
    }
    paths = {}
    for name, template in templates.items():
        paths[name] = folder / f"{name}.template.json"
        paths[name].write_text(json.dumps(template))
    reports, elapsed = run_checkov(paths)
    print(f"checkov on {len(paths)} templates: {elapsed:.1f} s")
    return reports


def data_bucket(template: dict[str, Any]) -> str:
    [bucket] = [
        k
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::S3::Bucket" and k.startswith("StorageData")
    ]
    return bucket


def some_function(template: dict[str, Any]) -> str:
    return next(k for k, v in template["Resources"].items() if v["Type"] == "AWS::Lambda::Function")


@pytest.mark.parametrize("which", ["default", "variant"])
def test_checkov_passes_but_for_the_checks_that_do_not_apply(
    which: str, checkov_reports: dict[str, Report]
) -> None:
    failures = checkov_reports[which].failures()
    assert failures == [], f"checkov checks failed on the {which} template:\n" + "\n".join(failures)


@pytest.mark.parametrize("which", ["default", "variant"])
def test_only_the_access_log_bucket_is_acknowledged_and_with_a_reason(
    which: str, checkov_reports: dict[str, Report]
) -> None:
    skipped = checkov_reports[which].skipped
    assert {(s["check_id"], s["resource"][:-8]) for s in skipped} == ACKNOWLEDGED
    for check in skipped:
        assert len(check["check_result"]["suppress_comment"].split()) >= 10, check["check_id"]


def test_checkov_fails_a_broken_template(
    synthesized: Synthesized, checkov_reports: dict[str, Report]
) -> None:
    """The test can fail: a public-access block and an environment key taken out are reported,
    by id and resource. (A bucket without ``BucketEncryption`` passes checkov: S3 encrypts every
    new object by default since 2023, so checkov's CKV_AWS_19 fails only a wrong algorithm.)"""
    failures = checkov_reports["broken"].failures()
    bucket, function = data_bucket(synthesized.template), some_function(synthesized.template)
    reported = {tuple(f.split()[:2]) for f in failures}
    assert ("CKV_AWS_173", f"AWS::Lambda::Function.{function}") in reported, failures
    for check in ("CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56"):
        assert (check, f"AWS::S3::Bucket.{bucket}") in reported, failures


def test_every_skip_says_why() -> None:
    assert set(NOT_APPLICABLE) == {"CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117"}
    assert all(len(reason.split()) >= 20 for reason in NOT_APPLICABLE.values())


# -- what the checks rest on, asserted on the template -------------------------------------


def test_every_function_encrypts_its_environment_with_the_stacks_key(
    synthesized: Synthesized,
) -> None:
    [key] = synthesized.resources("AWS::KMS::Key")
    functions = synthesized.resources("AWS::Lambda::Function")
    assert functions
    for name, function in functions.items():
        assert function["Properties"]["KmsKeyArn"] == {"Fn::GetAtt": [key, "Arn"]}, name


def test_each_role_may_decrypt_its_own_functions_environment_only(
    synthesized_full: Synthesized,
) -> None:
    """Lambda decrypts the environment with the execution role's credentials when it starts a
    function: kms:Decrypt on the key, through Lambda, for that function's encryption context."""
    [key] = synthesized_full.resources("AWS::KMS::Key")
    functions = synthesized_full.resources("AWS::Lambda::Function")
    decrypts = {
        s["Condition"]["ArnLike"]["kms:EncryptionContext:aws:lambda:FunctionArn"][0]["Fn::GetAtt"][
            0
        ]: (s, policy["Properties"]["Roles"])
        for policy in synthesized_full.resources("AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "DecryptOwnEnvironment"
    }
    assert set(decrypts) == set(functions)
    for name, (statement, roles) in decrypts.items():
        assert statement["Action"] == "kms:Decrypt"
        assert statement["Resource"] == {"Fn::GetAtt": [key, "Arn"]}
        assert statement["Condition"]["StringEquals"] == {
            "kms:ViaService": "lambda.us-east-1.amazonaws.com"
        }
        own = {"Fn::GetAtt": [name, "Arn"]}
        assert statement["Condition"]["ArnLike"] == {
            "kms:EncryptionContext:aws:lambda:FunctionArn": [
                own,
                {"Fn::Join": ["", [own, ":*"]]},
            ]
        }
        [role, _] = functions[name]["Properties"]["Role"]["Fn::GetAtt"]
        assert roles == [{"Ref": role}], "the function's own role, no other"
