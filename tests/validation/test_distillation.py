"""Distillation: the teacher -> student table, the data file, and checking a pair."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from lambda_handlers.common import catalogue
from lambda_handlers.validation import distillation as d

TEACHER = d.TEACHER_PATH
NOVA_LITE = "amazon.nova-lite-v1:0:300k"
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
NOVA_PRO_STUDENT = "amazon.nova-pro-v1:0:300k"
LLAMA_8B = "meta.llama3-1-8b-instruct-v1:0:128k"
LLAMA31_70B = "meta.llama3-1-70b-instruct-v1:0:128k"
LLAMA32_1B = "meta.llama3-2-1b-instruct-v1:0:128k"
LLAMA32_3B = "meta.llama3-2-3b-instruct-v1:0:128k"
LLAMA33_70B = "meta.llama3-3-70b-instruct-v1:0:128k"
ACCOUNT = "123456789012"

# The user guide's table (prequisites-model-distillation.html, checked 2026-11-26).
DOCUMENTED_PAIRS = {
    "amazon.nova-pro-v1:0": {NOVA_LITE, NOVA_MICRO},
    "amazon.nova-premier-v1:0": {NOVA_LITE, NOVA_MICRO, NOVA_PRO_STUDENT},
    "meta.llama3-1-405b-instruct-v1:0": {LLAMA_8B, LLAMA31_70B, LLAMA32_1B, LLAMA33_70B},
    "meta.llama3-1-70b-instruct-v1:0": {LLAMA_8B, LLAMA32_1B, LLAMA32_3B},
    "meta.llama3-3-70b-instruct-v1:0": {LLAMA_8B, LLAMA32_1B, LLAMA32_3B},
}
DOCUMENTED_INVOCATION = {
    "amazon.nova-pro-v1:0": "both",
    "amazon.nova-premier-v1:0": "inference-profile",
    "meta.llama3-1-405b-instruct-v1:0": "on-demand",
    "meta.llama3-1-70b-instruct-v1:0": "both",
    "meta.llama3-3-70b-instruct-v1:0": "inference-profile",
}


def bedrock_shape(name: str) -> Any:
    return botocore.session.get_session().get_service_model("bedrock").shape_for(name)


# -- the teacher -> student table ------------------------------------------------------


def test_the_table_is_the_user_guides() -> None:
    table = d.teachers()
    assert {t: set(teacher.students) for t, teacher in table.items()} == DOCUMENTED_PAIRS
    assert {t: teacher.invocation for t, teacher in table.items()} == DOCUMENTED_INVOCATION


def test_every_student_is_a_catalogued_distillation_model_in_the_teachers_region() -> None:
    models = catalogue.models()
    for teacher in d.teachers().values():
        for student in teacher.students:
            assert student in models, student
            assert "DISTILLATION" in models[student].customization_types, student
            assert set(teacher.regions) <= set(models[student].regions), (teacher, student)


def test_every_catalogued_distillation_model_is_some_teachers_student() -> None:
    students = {s for t in d.teachers().values() for s in t.students}
    distillable = {
        m for m, model in catalogue.models().items() if "DISTILLATION" in model.customization_types
    }
    assert distillable == students


def test_every_inference_profile_names_its_teacher_and_routes_from_the_jobs_region() -> None:
    profiles = d.raw_data()["inferenceProfiles"]
    for teacher in d.teachers().values():
        assert (teacher.invocation == "on-demand") == (not teacher.inference_profiles)
        for profile_id in teacher.inference_profiles:
            assert profile_id == f"us.{teacher.model_id}"
            assert profiles[profile_id]["model"] == teacher.model_id
            for region in teacher.regions:
                assert region in profiles[profile_id]["destinationRegions"][region]


def supported_forms() -> list[tuple[str, str]]:
    cases = []
    for teacher in d.teachers().values():
        region = teacher.regions[0]
        forms = list(teacher.identifiers)
        if teacher.invocation != "inference-profile":
            forms.append(f"arn:aws:bedrock:{region}::foundation-model/{teacher.model_id}")
        forms += [
            f"arn:aws:bedrock:{region}:{ACCOUNT}:inference-profile/{p}"
            for p in teacher.inference_profiles
        ]
        cases += [(form, student) for form in forms for student in teacher.students]
    return cases


@pytest.mark.parametrize(("teacher", "student"), supported_forms())
def test_a_supported_pair_passes_in_every_accepted_form(teacher: str, student: str) -> None:
    region = d.teachers()[d._resolve_teacher(teacher).teacher.model_id].regions[0]  # type: ignore[union-attr]
    assert d.check_teacher_student(teacher, student, region=region) == []


def test_a_student_arn_is_accepted() -> None:
    student = f"arn:aws:bedrock:us-east-1::foundation-model/{NOVA_MICRO}"
    assert d.check_teacher_student("amazon.nova-pro-v1:0", student) == []


def test_an_unsupported_pair_names_the_field_and_the_allowed_students() -> None:
    [problem] = d.check_teacher_student("amazon.nova-pro-v1:0", NOVA_PRO_STUDENT)
    assert problem.startswith(f"{TEACHER}: Amazon Nova Pro distills only into ")
    assert NOVA_LITE in problem and NOVA_MICRO in problem
    assert "taught by Amazon Nova Premier" in problem


def test_a_student_of_another_family_is_refused() -> None:
    [problem] = d.check_teacher_student("meta.llama3-1-70b-instruct-v1:0", NOVA_LITE)
    assert TEACHER in problem
    assert all(s in problem for s in (LLAMA_8B, LLAMA32_1B, LLAMA32_3B))


@pytest.mark.parametrize(
    "teacher",
    [
        "anthropic.claude-3-5-sonnet-20241022-v2:0",
        "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
        "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0",
    ],
)
def test_anthropic_teachers_are_refused(teacher: str) -> None:
    [problem] = d.check_teacher_student(teacher, "anthropic.claude-3-haiku-20240307-v1:0:200k")
    assert problem.startswith(f"{TEACHER}: ")
    assert "not currently available for Anthropic models" in problem
    assert "us.amazon.nova-premier-v1:0" in problem  # the supported teachers are listed


def test_an_unknown_teacher_lists_the_known_teachers() -> None:
    [problem] = d.check_teacher_student("mistral.mistral-large-2407-v1:0", LLAMA_8B)
    assert "'mistral.mistral-large-2407-v1:0' is not a supported teacher" in problem
    for teacher in d.teachers():
        assert teacher.split(".", 1)[1] in problem


@pytest.mark.parametrize(
    ("teacher", "hint"),
    [
        ("us.meta.llama3-1-405b-instruct-v1:0", "use meta.llama3-1-405b-instruct-v1:0"),
        ("amazon.nova-pro-v1:0:300k", "use amazon.nova-pro-v1:0 or us.amazon.nova-pro-v1:0"),
        ("eu.amazon.nova-pro-v1:0", "use amazon.nova-pro-v1:0 or us.amazon.nova-pro-v1:0"),
    ],
)
def test_a_near_miss_gets_the_identifier_to_use(teacher: str, hint: str) -> None:
    [problem] = d.check_teacher_student(teacher, LLAMA_8B)
    assert hint in problem


@pytest.mark.parametrize(
    "teacher",
    [
        "amazon.nova-premier-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-premier-v1:0",
    ],
)
def test_a_profile_only_teacher_named_by_model_id_is_refused(teacher: str) -> None:
    [problem] = d.check_teacher_student(teacher, NOVA_LITE)
    assert "only through a cross-Region inference profile" in problem
    assert "us.amazon.nova-premier-v1:0" in problem


def test_llama_3_3_is_a_teacher_only_through_its_profile() -> None:
    assert d.check_teacher_student("meta.llama3-3-70b-instruct-v1:0", LLAMA_8B) != []
    assert d.check_teacher_student("us.meta.llama3-3-70b-instruct-v1:0", LLAMA_8B) == []


def test_an_application_inference_profile_is_refused() -> None:
    arn = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/abc123"
    [problem] = d.check_teacher_student(arn, NOVA_LITE)
    assert "application inference profile" in problem


def test_the_region_of_the_job_and_of_the_arn_are_checked() -> None:
    problems = d.check_teacher_student(
        "arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-pro-v1:0",
        NOVA_LITE,
        region="us-east-1",
    )
    assert problems == [f"{TEACHER}: the ARN names Region us-west-2, the job runs in us-east-1"]
    [problem] = d.check_teacher_student("amazon.nova-pro-v1:0", NOVA_LITE, region="eu-west-1")
    assert "runs in us-east-1, not eu-west-1" in problem


@pytest.mark.parametrize("teacher", [None, "", 42])
def test_a_missing_teacher_is_a_problem(teacher: Any) -> None:
    [problem] = d.check_teacher_student(teacher, NOVA_LITE)
    assert problem.startswith(f"{TEACHER}: required")


def test_students_of_accepts_every_form_of_the_teacher() -> None:
    expected = d.teachers()["amazon.nova-premier-v1:0"].students
    assert d.students_of("us.amazon.nova-premier-v1:0") == expected
    assert (
        d.students_of(
            f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.amazon.nova-premier-v1:0"
        )
        == expected
    )
    assert d.students_of("anthropic.claude-3-5-sonnet-20241022-v2:0") == ()


def test_the_data_file_cites_its_sources_and_date() -> None:
    data = d.raw_data()
    assert data["checked"] == "2026-11-26"
    assert data["fieldPath"] == TEACHER
    assert all(s.startswith(("https://", "botocore ")) for s in data["sources"])
    logs = data["invocationLogs"]
    assert logs["minMatchingRecords"] == 100
    assert logs["maxRecords"] == 15000
    assert logs["minMatchingRecordsSources"]


def test_the_service_role_permissions_name_exact_actions_and_arns() -> None:
    perms = d.raw_data()["serviceRolePermissions"]
    profile = perms["teacherInferenceProfile"]
    assert profile["actions"] == ["bedrock:InvokeModel"]
    assert profile["resources"] == [
        "arn:${Partition}:bedrock:${Region}:${Account}:inference-profile/${InferenceProfileId}",
        "arn:${Partition}:bedrock:${DestinationRegion}::foundation-model/${TeacherModelId}",
    ]
    assert perms["invocationLogs"]["actions"] == ["s3:GetObject", "s3:ListBucket"]
    assert perms["trust"]["principal"] == "bedrock.amazonaws.com"
    assert perms["teacherFoundationModel"]["actions"] == []


def test_max_response_length_has_no_published_bounds() -> None:
    """If botocore starts publishing a range, the data file must record it."""
    member = bedrock_shape("TeacherModelConfig").members["maxResponseLengthForInference"]
    assert member.type_name == "integer"
    assert "min" not in member.metadata and "max" not in member.metadata
    entry = d.raw_data()["maxResponseLengthForInference"]
    assert entry["min"] is None and entry["max"] is None
