"""Loss curves from the metrics files a customization job writes, as they really arrive."""

from __future__ import annotations

import json

import pytest

from lambda_handlers.evaluation.curves import (
    Point,
    parse_metrics_csv,
    rises_at_end,
    summarize,
    training_objects,
)

JOB_ARN = "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/amazon.nova-lite-v1:0:300k/abcdef123456"

# Bedrock's layout (user guide, "Analyze the results of a model customization job").
TRAINING = (
    "step_number,epoch_number,training_loss,perplexity\n"
    "0,0,2.5,12.18\n"
    "1,0,1.9,6.69\n"
    "2,1,1.2,3.32\n"
    "3,1,1.25,3.49\n"
)


def test_bedrocks_layout_gives_one_point_per_row_in_file_order() -> None:
    points = parse_metrics_csv(TRAINING, "training_loss")
    assert points == [
        Point(0, 0, 2.5),
        Point(1, 0, 1.9),
        Point(2, 1, 1.2),
        Point(3, 1, 1.25),
    ]
    assert getattr(points, "skipped", None) == 0


def test_bom_crlf_blank_lines_reordered_and_extra_columns() -> None:
    text = (
        "\ufeffperplexity,validation_loss,learning_rate,epoch_number,step_number\r\n"
        "\r\n"
        "5.0,1.61,0.0001,0,9\r\n"
        "   \r\n"
        "4.0,1.38,0.0001,1,19\r\n"
        "\r\n"
    )
    assert parse_metrics_csv(text, "validation_loss") == [Point(9, 0, 1.61), Point(19, 1, 1.38)]


def test_header_junk_that_is_not_part_of_a_name_is_ignored() -> None:
    # Zero-width space, a second BOM after concatenation, quotes, spaces and capitals.
    text = '\u200b"Step_Number" , \ufeffepoch_number ,TRAINING_LOSS\u00a0\n0,0,2.0\n'
    assert parse_metrics_csv(text, "training_loss") == [Point(0, 0, 2.0)]


def test_files_joined_end_to_end_keep_every_row() -> None:
    second = "\ufeffstep_number,epoch_number,training_loss,perplexity\n4,2,0.8,2.2\n"
    points = parse_metrics_csv(TRAINING + second, "training_loss")
    assert len(points) == 5 and points[-1] == Point(4, 2, 0.8)


def test_nan_and_empty_losses_are_skipped_and_counted() -> None:
    text = "step_number,epoch_number,training_loss\n0,0,nan\n1,0,\n2,0,NaN\n3,0,inf\n4,1,0.9\n"
    points = parse_metrics_csv(text, "training_loss")
    assert points == [Point(4, 1, 0.9)]
    assert getattr(points, "skipped", None) == 4
    assert summarize(points, None)["training"]["skipped"] == 4


def test_whole_numbers_written_as_floats_are_steps() -> None:
    text = "step_number,epoch_number,training_loss\n10.0,1.0,0.5\n"
    assert parse_metrics_csv(text, "training_loss") == [Point(10, 1, 0.5)]


@pytest.mark.parametrize(
    ("text", "loss", "message"),
    [
        (
            "step_number,epoch_number,loss,perplexity\n0,0,1.0,2.7\n",
            "training_loss",
            "no 'training_loss' column (columns found: step_number, epoch_number, loss, perplexity)",
        ),
        (
            "step,epoch_number,validation_loss\n0,0,1.0\n",
            "validation_loss",
            "no 'step_number' column (columns found: step, epoch_number, validation_loss)",
        ),
        ("", "training_loss", "no 'step_number' column (columns found: none (the file is empty))"),
        ("\ufeff\r\n\r\n", "training_loss", "columns found: none"),
    ],
)
def test_a_missing_column_is_named_with_the_columns_found(
    text: str, loss: str, message: str
) -> None:
    with pytest.raises(ValueError) as raised:
        parse_metrics_csv(text, loss)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("2,1,0.7x", "line 4: training_loss is '0.7x', not a number"),
        ("2,one,0.7", "line 4: epoch_number is 'one', not a whole number"),
        ("2.5,1,0.7", "line 4: step_number is '2.5', not a whole number"),
        (",1,0.7", "line 4: step_number is '', not a whole number"),
        ("2,1", "line 4: 2 cell(s)"),
    ],
)
def test_a_bad_cell_names_its_line_and_value(row: str, message: str) -> None:
    # Line 3 is blank: the line number is the file's, not the count of rows.
    text = f"step_number,epoch_number,training_loss\r\n0,0,1.0\r\n\r\n{row}\r\n"
    with pytest.raises(ValueError) as raised:
        parse_metrics_csv(text, "training_loss")
    assert message in str(raised.value)


def test_summary_of_both_curves_is_json_ready() -> None:
    training = parse_metrics_csv(TRAINING, "training_loss")
    validation = [Point(1, 0, 1.5), Point(3, 1, 1.1), Point(5, 2, 1.2), Point(7, 3, 1.4)]
    summary = summarize(training, validation)
    assert json.loads(json.dumps(summary)) == summary
    assert summary["training"] == {
        "points": 4,
        "skipped": 0,
        "steps": 4,
        "epochs": 2,
        "first": {"step": 0, "epoch": 0, "loss": 2.5},
        "last": {"step": 3, "epoch": 1, "loss": 1.25},
        "best": {"step": 2, "epoch": 1, "loss": 1.2},
    }
    assert summary["validation"]["best"] == {"step": 3, "epoch": 1, "loss": 1.1}
    assert summary["validation"]["last"] == {"step": 7, "epoch": 3, "loss": 1.4}
    assert summary["validationRising"] == 2


def test_absent_curves_are_reported_absent() -> None:
    assert summarize(None, None) == {"training": None, "validation": None, "validationRising": None}
    only_training = summarize([Point(0, 0, 1.0)], None)
    assert only_training["validation"] is None and only_training["validationRising"] is None
    assert only_training["training"]["points"] == 1


def test_a_file_with_no_measured_row_is_present_but_empty() -> None:
    empty = parse_metrics_csv(
        "step_number,epoch_number,validation_loss\n0,0,nan\n", "validation_loss"
    )
    summary = summarize(None, empty)
    assert summary["validation"] == {
        "points": 0,
        "skipped": 1,
        "steps": 0,
        "epochs": 0,
        "first": None,
        "last": None,
        "best": None,
    }
    assert summary["validationRising"] == 0


@pytest.mark.parametrize(
    ("losses", "rises"),
    [
        ([], 0),
        ([1.0], 0),
        ([1.0, 0.9], 0),
        ([1.0, 1.1], 1),
        ([1.0, 0.8, 0.9, 1.0, 1.2], 3),
        ([1.0, 1.1, 1.2, 1.1], 0),  # fell at the end
        ([1.0, 1.1, 1.1], 0),  # level is not a rise
        ([1.0, 1.1, 1.1, 1.2], 1),
    ],
)
def test_rises_are_counted_back_from_the_last_evaluation(losses: list[float], rises: int) -> None:
    points = [Point(i, i, loss) for i, loss in enumerate(losses)]
    assert rises_at_end(points) == rises
    if points:
        assert summarize(None, points)["validationRising"] == rises


def test_best_is_the_earliest_of_equal_lowest_losses() -> None:
    points = [Point(0, 0, 1.0), Point(1, 0, 0.5), Point(2, 1, 0.5)]
    assert summarize(points, None)["training"]["best"]["step"] == 1


@pytest.mark.parametrize(
    "output",
    [
        "s3://artifacts/customization-jobs/support-triage/",
        "s3://artifacts/customization-jobs/support-triage",
    ],
)
def test_objects_of_a_job_under_its_output_prefix(output: str) -> None:
    folder = "customization-jobs/support-triage/model-customization-job-abcdef123456"
    assert training_objects(output, JOB_ARN) == {
        "training": (
            "artifacts",
            f"{folder}/training_artifacts/step_wise_training_metrics.csv",
        ),
        "validation": (
            "artifacts",
            f"{folder}/validation_artifacts/post_fine_tuning_validation/validation_metrics.csv",
        ),
    }


def test_objects_at_the_root_of_a_bucket() -> None:
    objects = training_objects("s3://artifacts", JOB_ARN)
    assert objects["training"] == (
        "artifacts",
        "model-customization-job-abcdef123456/training_artifacts/step_wise_training_metrics.csv",
    )


@pytest.mark.parametrize(
    ("output", "arn", "message"),
    [
        ("https://artifacts/out/", JOB_ARN, "not an s3:// URI"),
        ("s3:///out/", JOB_ARN, "names no bucket"),
        ("s3://artifacts/out/", "abcdef123456", "not a customization job ARN"),
    ],
)
def test_objects_refuse_what_is_not_a_location_or_a_job(
    output: str, arn: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        training_objects(output, arn)
