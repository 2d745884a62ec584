"""Every request in ``examples/`` is valid and runs offline to SUCCEEDED.

Each example is checked against the JSON Schema as it is written, then started on the
synthesized state machine (the default stack, or the one with every option on where it
needs graders, distillation or invocation logs) with its placeholders replaced by the
offline stack's names and the data it names put where it says. Bedrock's side is the fake:
for reinforcement fine-tuning it calls the grader the job names on records of the example's
own data, as training does, so each built-in grader is proven on the data shape its example
documents (``examples/README.md``). What Validate checks before paying (the test set, the
promotion target, how the base model answers) finds what the example's setup put there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest

from lambda_handlers.graders import judge
from tests.conftest import PROMOTION_TARGET_ARNS
from tests.e2e.fake_bedrock import REGION, FakeBedrock, FakeBedrockRuntime
from tests.e2e.harness import Execution, OfflineWorkflow
from tests.e2e.test_approaches import log_record, prompt_records, put_logs, rft_records
from tests.factories import conversation_records, jsonl, pretraining_records

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SCHEMA = json.loads((ROOT / "schemas" / "customization-request.v1.json").read_text())
# The placeholders the example files use, as their README says.
DATA_BUCKET = "your-data-bucket"
LOGS_BUCKET = "your-invocation-logs-bucket"
PROMOTION_TARGET = "arn:aws:bedrock:us-east-1:111122223333:custom-model-deployment/abcdef123456"
LISTED_TARGET = PROMOTION_TARGET_ARNS[0]  # a deployment the full stack lets executions promote onto
PREVIOUS_MODEL = (
    "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/aaaaaaaaaaaa"
)


@dataclass
class Run:
    """One example on its way: the workflow, the fake Bedrock, what the graders answered."""

    workflow: OfflineWorkflow
    bedrock: FakeBedrock
    replacements: dict[str, str]
    graded: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = field(default_factory=list)
    judge: FakeBedrockRuntime | None = None  # the judge grader's model, when it is asked

    def put(self, key: str, records: list[Any]) -> None:
        self.workflow.put_data(key, jsonl(records))

    def request(self, name: str) -> dict[str, Any]:
        text = (EXAMPLES / name).read_text()
        for placeholder, value in {
            DATA_BUCKET: self.workflow.data_bucket,
            **self.replacements,
        }.items():
            text = text.replace(placeholder, value)
        return json.loads(text)

    def grade_during_training(self, answers: list[str]) -> None:
        """Play Bedrock's RFT: the first records of the training data, answered with
        ``answers``, sent to the grader Lambda the job names."""

        def train(params: dict[str, Any]) -> None:
            config = params["customizationConfig"]["rftConfig"]["graderConfig"]
            uri = params["trainingDataConfig"]["s3Uri"]
            lines = self.workflow.read_data(uri).splitlines()[: len(answers)]
            batch = [
                {**record, "messages": [*record["messages"], {"role": "assistant", "content": a}]}
                for record, a in zip((json.loads(line) for line in lines), answers, strict=True)
            ]
            arn = config["lambdaGrader"]["lambdaArn"]
            self.graded.append((batch, self.workflow.invoke_arn(arn, batch)))

        self.bedrock.on_training = train

    def scores(self) -> list[float]:
        [(_, results)] = self.graded
        return [r["aggregate_reward_score"] for r in results]


def before_submit(bedrock: FakeBedrock) -> list[str]:
    """The Bedrock calls Validate made, before the job was submitted."""
    operations = bedrock.operations()
    return operations[: operations.index("CreateModelCustomizationJob")]


def created_job(bedrock: FakeBedrock) -> dict[str, Any]:
    [(_, params)] = [c for c in bedrock.calls if c[0] == "CreateModelCustomizationJob"]
    return params


# -- what each example needs, and what its run must show -------------------------------------


def fine_tuning_data(run: Run, name: str, validation: bool = True) -> None:
    run.put(f"training/{name}.jsonl", conversation_records(12))
    if validation:
        run.put(f"validation/{name}.jsonl", conversation_records(3, offset=100))


def prepare_provisioned(run: Run) -> None:
    fine_tuning_data(run, "support-triage")


def check_provisioned(run: Run, execution: Execution) -> None:
    [throughput] = run.bedrock.throughputs.values()
    assert execution.output["serving"]["invokeModelId"] == throughput["provisionedModelArn"]
    assert throughput["modelUnits"] == 1 and throughput["commitmentDuration"] is None
    assert {"key": "team", "value": "ml-platform"} in throughput["tags"]


def prepare_on_demand(run: Run) -> None:
    fine_tuning_data(run, "classify", validation=False)


def check_on_demand(run: Run, execution: Execution) -> None:
    [deployment] = run.bedrock.deployments.values()
    assert execution.output["serving"]["invokeModelId"] == deployment["customModelDeploymentArn"]
    assert run.bedrock.throughputs == {}


def prepare_pretraining(run: Run) -> None:
    run.put("training/clinical-notes.jsonl", pretraining_records(20))


def check_pretraining(run: Run, execution: Execution) -> None:
    params = created_job(run.bedrock)
    assert params["customizationType"] == "CONTINUED_PRE_TRAINING"
    assert params["jobName"] == "clinical-notes-cpt-2026-11"
    assert "Start serving" not in execution.entered_states()


def prepare_distillation_prompts(run: Run) -> None:
    run.put("training/support-prompts.jsonl", prompt_records(150))


def check_distillation(run: Run, execution: Execution) -> None:
    params = created_job(run.bedrock)
    assert params["customizationType"] == "DISTILLATION"
    teacher = params["customizationConfig"]["distillationConfig"]["teacherModelConfig"]
    assert teacher["teacherModelIdentifier"] == "amazon.nova-pro-v1:0"


def prepare_distillation_logs(run: Run) -> None:
    put_logs(
        run.workflow,
        [log_record(i, "support") for i in range(120)]
        + [log_record(i, "marketing") for i in range(30)],
    )


def check_distillation_logs(run: Run, execution: Execution) -> None:
    check_distillation(run, execution)
    report = run.workflow.read_artifact(execution.output["dataset"]["reportUri"])
    assert report["files"]["invocationLogs"]["matchingRecords"] == 120


def prepare_rft_reference_match(run: Run) -> None:
    run.put("training/arithmetic-rft.jsonl", rft_records(120))
    run.grade_during_training(["The answer is 0", "2", "\\boxed{5}", "Answer: 6"])


def check_rft_reference_match(run: Run, execution: Execution) -> None:
    assert run.scores() == [1.0, 1.0, 0.0, 1.0]
    assert execution.output["serving"]["invokeModelId"]


INVOICE_SCHEMA = {
    "type": "object",
    "required": ["number", "total"],
    "properties": {"number": {"type": "integer"}, "total": {"type": "number"}},
    "additionalProperties": False,
}


def invoice_records(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"invoice-{i}",
            "messages": [
                {"role": "system", "content": "Answer with the invoice as JSON: number, total."},
                {"role": "user", "content": f"Invoice {i} from ACME totals {i}.50 EUR."},
            ],
            "reference_answer": {"json_schema": INVOICE_SCHEMA},
        }
        for i in range(n)
    ]


def prepare_rft_format(run: Run) -> None:
    run.put("training/invoice-extraction-rft.jsonl", invoice_records(120))
    run.grade_during_training(
        ['{"number": 0, "total": 0.5}', '```json\n{"number": 1}\n```', "It costs 2.50 EUR."]
    )


def check_rft_format(run: Run, execution: Execution) -> None:
    assert run.scores() == [1.0, 0.5, 0.0], "schema match, JSON breaking it, not JSON"


def reply_records(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"reply-{i}",
            "messages": [{"role": "user", "content": f"Customer {i}: where is my parcel?"}],
            "reference_answer": {
                "chosen": "Sorry for the wait: your parcel arrives tomorrow, here is the tracking link.",
                "rejected": "Parcels arrive when they arrive.",
                "score": 0.9,
            },
        }
        for i in range(n)
    ]


def prepare_rft_preference(run: Run) -> None:
    run.put("training/reply-style-rft.jsonl", reply_records(120))
    run.grade_during_training(
        [
            "Sorry for the wait: your parcel arrives tomorrow, here is the tracking link.",
            "Parcels arrive when they arrive.",
        ]
    )


def check_rft_preference(run: Run, execution: Execution) -> None:
    chosen, rejected = run.scores()
    assert chosen > 0.9 and rejected < 0.1, (chosen, rejected)


def tone_records(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"tone-{i}",
            "messages": [
                {"role": "system", "content": "You answer support tickets politely."},
                {"role": "user", "content": f"Ticket {i}: the app crashes when I log in."},
            ],
            "reference_answer": "Apologise, ask for the app version, offer a workaround.",
        }
        for i in range(n)
    ]


def prepare_rft_judge(run: Run) -> None:
    run.put("training/support-tone-rft.jsonl", tone_records(120))
    judge.judge_client.cache_clear()
    run.judge = FakeBedrockRuntime(
        lambda model_id, prompt: (
            "Polite and helpful.\nScore: 10" if "Sorry" in prompt else "Curt.\nScore: 1"
        )
    )
    run.judge.register(judge.judge_client())
    run.grade_during_training(["Sorry about that! Which app version do you use?", "Reinstall."])


def check_rft_judge(run: Run, execution: Execution) -> None:
    assert run.scores() == [1.0, 0.0]
    assert run.judge is not None
    assert {p["modelId"] for _, p in run.judge.calls} == {"amazon.nova-pro-v1:0"}
    assert run.judge.violations == []


def prepare_evaluation(run: Run) -> None:
    fine_tuning_data(run, "support-triage")
    run.put("test/support-triage.jsonl", conversation_records(20, offset=500))


def check_evaluation(run: Run, execution: Execution) -> None:
    evaluation = execution.output["evaluation"]
    assert evaluation["gate"]["passed"] is True
    assert evaluation["metrics"]["token_f1"]["custom"] == 1.0
    assert run.bedrock.live_serving(), "the model that passed stays served"
    assert "GetFoundationModel" in before_submit(run.bedrock), "how the base model answers"


def prepare_promotion(run: Run) -> None:
    """The stack is deployed with ``-c promotionTargetArns=<the deployment>`` (the full
    stack lists one), and the deployment is there, serving a model of the same base model."""
    fine_tuning_data(run, "support-triage")
    made = run.bedrock.existing_deployment(PREVIOUS_MODEL)
    deployment = {**run.bedrock.deployments.pop(made), "customModelDeploymentArn": LISTED_TARGET}
    run.bedrock.deployments[LISTED_TARGET] = deployment
    run.replacements[PROMOTION_TARGET] = LISTED_TARGET


def check_promotion(run: Run, execution: Execution) -> None:
    target = run.replacements[PROMOTION_TARGET]
    assert execution.output["promotion"]["previousModelArn"] == PREVIOUS_MODEL
    assert run.bedrock.deployments[target]["modelArn"] == execution.output["job"]["outputModelArn"]
    assert "Start serving" not in execution.entered_states(), "promoted without a new endpoint"
    # The target was checked before paying: it exists and serves the same base model.
    assert {"GetCustomModelDeployment", "GetCustomModel"} <= set(before_submit(run.bedrock))


def prepare_time_to_live(run: Run) -> None:
    fine_tuning_data(run, "classify", validation=False)


def check_time_to_live(run: Run, execution: Execution) -> None:
    scheduler = boto3.client("scheduler", region_name=REGION)
    schedule = scheduler.get_schedule(Name=execution.output["expiry"]["name"])
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert run.bedrock.live_serving(), "served until the time-to-live ends"


@dataclass(frozen=True)
class Example:
    """How to run one example: on which stack, with what data, and what it must show."""

    stack: str  # the fixture: "workflow" (default stack) or "workflow_full" (every option)
    prepare: Callable[[Run], None]
    check: Callable[[Run, Execution], None]
    runtime: bool = False  # the evaluation asks models through Converse


EXAMPLE_RUNS = {
    "fine-tuning-provisioned.json": Example("workflow", prepare_provisioned, check_provisioned),
    "fine-tuning-on-demand.json": Example("workflow", prepare_on_demand, check_on_demand),
    "continued-pre-training.json": Example("workflow", prepare_pretraining, check_pretraining),
    "distillation-from-prompts.json": Example(
        "workflow_full", prepare_distillation_prompts, check_distillation
    ),
    "distillation-from-invocation-logs.json": Example(
        "workflow_full", prepare_distillation_logs, check_distillation_logs
    ),
    "rft-reference-match.json": Example(
        "workflow_full", prepare_rft_reference_match, check_rft_reference_match
    ),
    "rft-format.json": Example("workflow_full", prepare_rft_format, check_rft_format),
    "rft-preference.json": Example("workflow_full", prepare_rft_preference, check_rft_preference),
    "rft-judge.json": Example("workflow_full", prepare_rft_judge, check_rft_judge),
    "evaluation-with-gate.json": Example(
        "workflow", prepare_evaluation, check_evaluation, runtime=True
    ),
    "promotion-onto-existing-endpoint.json": Example(
        "workflow_full", prepare_promotion, check_promotion
    ),
    "time-to-live.json": Example("workflow", prepare_time_to_live, check_time_to_live),
}
FILES = sorted(p.name for p in EXAMPLES.glob("*.json"))


def test_every_example_has_a_run() -> None:
    assert sorted(EXAMPLE_RUNS) == FILES


@pytest.mark.parametrize("name", FILES)
def test_the_example_is_valid_against_the_schema(name: str) -> None:
    jsonschema.validate(json.loads((EXAMPLES / name).read_text()), SCHEMA)


@pytest.mark.parametrize("name", sorted(EXAMPLE_RUNS))
def test_the_example_runs_offline_to_succeeded(
    name: str, bedrock: FakeBedrock, request: pytest.FixtureRequest
) -> None:
    example = EXAMPLE_RUNS[name]
    if example.runtime:
        request.getfixturevalue("runtime")
    workflow: OfflineWorkflow = request.getfixturevalue(example.stack)
    run = Run(workflow, bedrock, {LOGS_BUCKET: "bedrock-invocation-logs"})
    try:
        example.prepare(run)
        execution = workflow.run(run.request(name))
    finally:
        judge.judge_client.cache_clear()  # the judge's client is cached apart from the others

    assert execution.status == "SUCCEEDED", f"{name}: {execution.error}: {execution.cause}"
    example.check(run, execution)
    [notification] = workflow.notifications()
    assert notification["outcome"] == "SUCCEEDED"
