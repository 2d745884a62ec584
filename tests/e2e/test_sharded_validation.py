"""Large data through the synthesized state machine run offline: the Distributed Map path.

The full stack validates data of 4 MiB or more in 1 MiB shards (``tests/conftest.py``): the
map runs one invocation per shard, the merge gives the report one pass over the files gives,
and bad data anywhere, the last shard included, stops the execution before anything is
submitted, naming its global line. Smaller data takes the single-function path as before.
"""

from __future__ import annotations

from typing import Any

from lambda_handlers.validation import validate_dataset
from lambda_handlers.validation.engine import summary
from lambda_handlers.validation.sources import bytes_source
from tests.e2e.fake_bedrock import FakeBedrock
from tests.e2e.harness import OfflineWorkflow
from tests.e2e.requests import error_message
from tests.factories import conversation_records, fine_tuning_request, jsonl

NOVA = "amazon.nova-lite-v1:0:300k"
MAP_PATH = ["Validate request", "Data in shards?", "Validate data in shards"]


def large_training_data() -> list[dict[str, Any]]:
    """About 4.6 MB of Nova conversations (the stack's threshold is 4 MiB)."""
    records: list[dict[str, Any]] = conversation_records(17_000)
    for i in range(0, 17_000, 1_000):  # long enough to cross the threshold, under 20,000
        records[i]["system"][0]["text"] += " Answer with the category only." * 2
    return records


def one_pass(uris_and_data: list[tuple[str, bytes]]) -> dict[str, Any]:
    """The report Validate's engine gives reading the files in one pass."""
    (train_uri, train), *validations = uris_and_data
    report = validate_dataset(
        bytes_source(train_uri, train),
        [bytes_source(uri, data) for uri, data in validations],
        customization_type="FINE_TUNING",
        base_model=NOVA,
    )
    report["summary"] = summary(report)
    return report


def test_an_error_in_the_last_shard_stops_before_submit_naming_its_global_line(
    workflow_full: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    records = large_training_data()
    records[12_345] = records[3]  # an exact repeat, shards apart
    records[-2]["messages"].reverse()  # assistant first, in the last shard
    train = jsonl(records)
    assert len(train) > 4 * 1024 * 1024
    validation = jsonl(conversation_records(3, offset=100_000))
    train_uri = workflow_full.put_data("training/large.jsonl", train)
    validation_uri = workflow_full.put_data("validation/val.jsonl", validation)
    request = fine_tuning_request(
        baseModelIdentifier=NOVA,
        trainingDataConfig={"s3Uri": train_uri},
        validationDataConfig={"validators": [{"s3Uri": validation_uri}]},
    )
    execution = workflow_full.run(request, timeout=120)

    assert execution.status == "FAILED"
    assert execution.error == "TrainingDataInvalid"
    assert execution.entered_states()[:3] == MAP_PATH
    assert execution.entered_states()[-4:] == [
        "Merge shard reports",
        "Request rejected",
        "Notify failure",
        "Customization failed",
    ]
    shard_runs = [event for _, event in workflow_full.invocations if "shard" in event]
    assert len(shard_runs) == 6, "five 1 MiB shards of the training file, one of validation"
    message = error_message(execution)
    assert f"role-order at training line {len(records) - 1} $.messages[0].role" in message
    assert bedrock.calls == [], "nothing was submitted"
    report = workflow_full.read_artifact(message.rsplit("Full report: ", 1)[1])
    assert report == one_pass([(train_uri, train), (validation_uri, validation)])
    assert report["examples"]["duplicate-record"][0]["line"] == 12_346


def test_valid_large_data_goes_on_to_submit_with_the_merged_counts(
    workflow_full: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    train = jsonl(large_training_data())
    train_uri = workflow_full.put_data("training/large.jsonl", train)
    request = fine_tuning_request(baseModelIdentifier=NOVA, trainingDataConfig={"s3Uri": train_uri})
    del request["validationDataConfig"]
    execution = workflow_full.run(request, timeout=120)

    states = execution.entered_states()
    assert states[:6] == [*MAP_PATH, "Merge shard reports", "Sweep?", "Submit customization job"]
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    [job] = bedrock.jobs.values()
    assert job["trainingDataConfig"]["s3Uri"] == train_uri
    report = workflow_full.read_artifact(execution.output["dataset"]["reportUri"])
    assert report == one_pass([(train_uri, train)])
    assert execution.output["dataset"]["records"] == {"training": 17_000}


def test_small_data_keeps_the_single_function_path(workflow_full: OfflineWorkflow) -> None:
    train_uri = workflow_full.put_data("training/small.jsonl", jsonl(conversation_records(12)))
    request = fine_tuning_request(baseModelIdentifier=NOVA, trainingDataConfig={"s3Uri": train_uri})
    del request["validationDataConfig"]
    execution = workflow_full.run(request, timeout=120)

    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert not [event for _, event in workflow_full.invocations if "shard" in event]
    assert execution.entered_states()[:4] == [
        "Validate request",
        "Data in shards?",
        "Sweep?",
        "Submit customization job",
    ]
