"""Distillation's teacher -> student rules.

Pure Python, importable without AWS. What is supported, with sources and date, is data:
``lambda_handlers/data/distillation.json`` (``raw_data``), read here for the teachers, their
inference profiles and students, and by ``invocation_logs`` for the limits of log input.

Checked here: the pair in a CreateModelCustomizationJob request, the teacher in
``customizationConfig.distillationConfig.teacherModelConfig.teacherModelIdentifier``
(a foundation-model id or ARN, or a system-defined inference profile id or ARN, as the
teacher allows) and the student in ``baseModelIdentifier``. Invocation logs as training
data, and their ``requestMetadataFilters``: ``invocation_logs.py``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from lambda_handlers.common import catalogue

TEACHER_PATH = "customizationConfig.distillationConfig.teacherModelConfig.teacherModelIdentifier"

_FOUNDATION_MODEL_ARN = re.compile(
    r"^arn:aws(?:-[a-z]+)*:bedrock:(?P<region>[a-z0-9-]{1,20})::foundation-model/(?P<id>[^/]+)$"
)
_INFERENCE_PROFILE_ARN = re.compile(
    r"^arn:aws(?:-[a-z]+)*:bedrock:(?P<region>[a-z0-9-]{1,20}):[0-9]{12}"
    r":inference-profile/(?P<id>[a-zA-Z0-9-:.]+)$"
)
_APPLICATION_PROFILE_ARN = re.compile(
    r"^arn:aws(?:-[a-z]+)*:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:application-inference-profile/"
)


# -- the data file -------------------------------------------------------------------


@cache
def raw_data() -> dict[str, Any]:
    """``lambda_handlers/data/distillation.json``, parsed once."""
    text = resources.files("lambda_handlers").joinpath("data/distillation.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@dataclass(frozen=True)
class Teacher:
    """One supported teacher and the students it can distill into."""

    model_id: str
    name: str
    provider: str
    invocation: str  # "on-demand", "inference-profile" or "both", as the user guide's table
    inference_profiles: tuple[str, ...]
    students: tuple[str, ...]
    regions: tuple[str, ...]

    @property
    def identifiers(self) -> tuple[str, ...]:
        """The ids teacherModelIdentifier may hold for this teacher (ARNs of them too)."""
        ids: list[str] = []
        if self.invocation != "inference-profile":
            ids.append(self.model_id)
        if self.invocation != "on-demand":
            ids.extend(self.inference_profiles)
        return tuple(ids)


@cache
def teachers() -> dict[str, Teacher]:
    """Every supported teacher, by foundation-model id."""
    return {
        model_id: Teacher(
            model_id=model_id,
            name=entry["name"],
            provider=entry["provider"],
            invocation=entry["invocation"],
            inference_profiles=tuple(entry["inferenceProfiles"]),
            students=tuple(entry["students"]),
            regions=tuple(entry["regions"]),
        )
        for model_id, entry in raw_data()["teachers"].items()
    }


@dataclass(frozen=True)
class _TeacherRef:
    teacher: Teacher | None
    kind: str  # "foundation-model", "inference-profile", "application-inference-profile", "unknown"
    identifier: str  # the model or profile id, without ARN
    arn_region: str | None = None


def _resolve_teacher(identifier: str) -> _TeacherRef:
    match = _FOUNDATION_MODEL_ARN.match(identifier)
    if match:
        model_id = match.group("id")
        return _TeacherRef(
            teachers().get(model_id), "foundation-model", model_id, match.group("region")
        )
    match = _INFERENCE_PROFILE_ARN.match(identifier)
    if match:
        profile_id = match.group("id")
        profile = raw_data()["inferenceProfiles"].get(profile_id)
        teacher = teachers().get(profile["model"]) if profile else None
        return _TeacherRef(teacher, "inference-profile", profile_id, match.group("region"))
    if _APPLICATION_PROFILE_ARN.match(identifier):
        return _TeacherRef(None, "application-inference-profile", identifier)
    if identifier in teachers():
        return _TeacherRef(teachers()[identifier], "foundation-model", identifier)
    profile = raw_data()["inferenceProfiles"].get(identifier)
    if profile:
        return _TeacherRef(teachers()[profile["model"]], "inference-profile", identifier)
    return _TeacherRef(None, "unknown", identifier)


def find_teacher(identifier: str) -> Teacher | None:
    """The supported teacher an identifier (model id, inference profile or ARN) names, if any."""
    return _resolve_teacher(identifier).teacher


def students_of(teacher_id: str) -> tuple[str, ...]:
    """The student model ids a teacher (id, profile or ARN) distills into; empty if unknown."""
    teacher = find_teacher(teacher_id)
    return teacher.students if teacher else ()


def _model_name(model_id: str) -> str:
    model = catalogue.models().get(model_id)
    return f"{model.name} ({model_id})" if model else model_id


def _teacher_list() -> str:
    return "; ".join(f"{t.name}: {' or '.join(t.identifiers)}" for t in teachers().values())


def _near_miss(identifier: str) -> Teacher | None:
    """A teacher the identifier almost names: another Region prefix or a context suffix."""
    candidates = [identifier, identifier.split(".", 1)[-1]]
    for candidate in candidates:
        if candidate in teachers():
            return teachers()[candidate]
        for model_id, teacher in teachers().items():
            if candidate.startswith(model_id + ":"):
                return teacher
    return None


def check_teacher_student(
    teacher_id: Any, student_id: Any, *, region: str | None = None
) -> list[str]:
    """Problems with a teacher -> student pair (empty when Bedrock supports it).

    ``teacher_id`` is what goes in teacherModelIdentifier: a foundation-model id or ARN, or
    a system-defined inference profile id or ARN, whichever the teacher allows.
    ``student_id`` is baseModelIdentifier (a model id as in models.json, or its ARN).
    With ``region`` (the job's Region) the pair's Region is checked too.
    """
    if not isinstance(teacher_id, str) or not teacher_id:
        return [
            f"{TEACHER_PATH}: required, a teacher's model id or inference profile; supported: "
            f"{_teacher_list()}"
        ]
    ref = _resolve_teacher(teacher_id)
    if ref.kind == "application-inference-profile":
        return [
            f"{TEACHER_PATH}: {teacher_id!r} is an application inference profile; distillation "
            f"takes only system-defined (cross-Region) profiles; supported: {_teacher_list()}"
        ]
    teacher = ref.teacher
    if teacher is None:
        for provider, rule in raw_data()["unsupportedProviders"].items():
            if ref.identifier.startswith(rule["idPrefix"]) or f".{rule['idPrefix']}" in (
                ref.identifier
            ):
                return [
                    f"{TEACHER_PATH}: {teacher_id!r} is from {provider}: {rule['message']}. "
                    f"Supported teachers: {_teacher_list()}"
                ]
        near = _near_miss(ref.identifier)
        hint = f" (for {near.name} use {' or '.join(near.identifiers)})" if near else ""
        return [
            f"{TEACHER_PATH}: {teacher_id!r} is not a supported teacher{hint}; supported "
            f"teachers: {_teacher_list()}"
        ]

    problems: list[str] = []
    if ref.kind == "foundation-model" and teacher.invocation == "inference-profile":
        problems.append(
            f"{TEACHER_PATH}: {teacher.name} is a teacher only through a cross-Region inference "
            f"profile; use {' or '.join(teacher.inference_profiles)} (or its ARN)"
        )
    if ref.kind == "inference-profile" and teacher.invocation == "on-demand":
        problems.append(
            f"{TEACHER_PATH}: {teacher.name} is a teacher only on demand; use {teacher.model_id}"
        )

    student = student_id if isinstance(student_id, str) else ""
    match = _FOUNDATION_MODEL_ARN.match(student)
    student = match.group("id") if match else student
    if student not in teacher.students:
        allowed = ", ".join(_model_name(s) for s in teacher.students)
        others = [t.name for t in teachers().values() if student in t.students]
        tail = f"; {student!r} is taught by {', '.join(others)}" if others else ""
        problems.append(
            f"{TEACHER_PATH}: {teacher.name} distills only into {allowed}; the student "
            f"(baseModelIdentifier) {student_id!r} is not one of them{tail}"
        )
    if region is not None:
        if region not in teacher.regions:
            problems.append(
                f"{TEACHER_PATH}: distillation from {teacher.name} runs in "
                f"{', '.join(teacher.regions)}, not {region}"
            )
        if ref.arn_region is not None and ref.arn_region != region:
            problems.append(
                f"{TEACHER_PATH}: the ARN names Region {ref.arn_region}, the job runs in {region}"
            )
    return problems
