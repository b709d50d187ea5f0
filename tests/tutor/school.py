"""One school with a student whose every free-text field is filled in, for the access matrix and the XSS tests.

``private(field)`` gives the text a student writes (answers, reflections, names); ``authored(field)`` the text
staff and content authors write (course, skill, item, class names). The access matrix marks the first with
unique strings that must never reach another viewer; the XSS tests make both script payloads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import product

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from learner_models.models import ModelVersion, TrainingRun
from lti.models import RegistrationInvite
from metacog import services as metacog_services
from metacog.models import Reflection, StrategySuggestion
from tests.factories import (
    CourseFactory,
    ItemFactory,
    OrganisationFactory,
    SectionFactory,
    SkillFactory,
    StudentFactory,
    TeacherFactory,
    UserFactory,
    enrol,
)
from tutor import services
from tutor.models import Enrollment, User

Text = Callable[[str], str]


def payload(field: str) -> str:
    """Script in a text (``<script>``) and in an attribute (``"><img onerror>``), named after its field."""
    slug = field.replace(" ", "_")
    return f'<script>alert("{slug}")</script>"><img src=x onerror=alert("{slug}")>'


def _answer(session, *, text: str, key: str, confidence: float = 0.9):
    si = services.session_item_current(session=session)
    assert si is not None
    services.attempt_record(
        student=session.student, session_item=si, answer=text, confidence=confidence, idempotency_key=key
    )
    return si


def build(*, private: Text, authored: Text) -> dict:
    """Organisation A: class ``mine`` (the ``victim``, a ``classmate``, teacher ``own_teacher``) and
    ``other_class`` (``other_student``, ``other_teacher``); organisation B: ``foreign_class`` (``foreign``,
    ``foreign_teacher``). The victim has an ended session (``ended``: answers, plan, confident-error and
    strategy notes, evaluation, summary, a suggestion) and an open one (``open``: one answer, a plan)."""
    org, other_org = OrganisationFactory(name=authored("organisation name")), OrganisationFactory()
    course = CourseFactory(title=authored("course title"), description=authored("course description"))
    skill = SkillFactory(course=course, name=authored("skill name"), description=authored("skill description"))
    for n in range(4):
        ItemFactory(
            skill=skill,
            item_type="text",
            prompt=authored(f"item prompt {n}"),
            answer={"accepted": ["photosynthesis"]},
            hints=[authored(f"hint {n}")],
            solution=authored(f"solution {n}"),
        )
    mine = SectionFactory(organisation=org, course=course, name=authored("class name"), session_length=3)
    other_class = SectionFactory(organisation=org, course=course)
    foreign_class = SectionFactory(organisation=other_org)
    victim = StudentFactory(
        organisation=org,
        first_name=private("first name"),
        last_name=private("last name"),
        external_id="victim-external-id",
    )
    classmate, other_student = StudentFactory(organisation=org), StudentFactory(organisation=org)
    foreign = StudentFactory(organisation=other_org)
    own_teacher, other_teacher = TeacherFactory(organisation=org), TeacherFactory(organisation=org)
    foreign_teacher = TeacherFactory(organisation=other_org)
    admin = UserFactory(organisation=org, role=User.Role.ADMIN)
    mine.teachers.add(own_teacher)
    other_class.teachers.add(other_teacher)
    foreign_class.teachers.add(foreign_teacher)
    for student, section in ((victim, mine), (classmate, mine), (other_student, other_class), (foreign, foreign_class)):
        enrol(student, section)

    ended = services.session_start(student=victim, section=mine)
    metacog_services.reflection_plan_record(student=victim, session=ended, goal=private("plan goal"))
    first = _answer(ended, text=private("answer 1"), key="victim-1")
    metacog_services.reflection_item_record(
        student=victim, session_item=first, kind=Reflection.Kind.CONFIDENT_ERROR, answer=private("confident error")
    )
    second = _answer(ended, text=private("answer 2"), key="victim-2", confidence=0.25)
    metacog_services.reflection_item_record(
        student=victim, session_item=second, kind=Reflection.Kind.STRATEGY_NOTE, answer=private("strategy note")
    )
    _answer(ended, text="photosynthesis", key="victim-3", confidence=0.5)
    services.session_end(session=ended)
    metacog_services.reflection_session_record(
        student=victim,
        session=ended,
        kind=Reflection.Kind.EVALUATION,
        answer=private("what worked"),
        second_answer=private("what to change"),
    )
    metacog_services.reflection_session_record(
        student=victim, session=ended, kind=Reflection.Kind.SUMMARY, answer=private("summary")
    )
    suggestion = metacog_services.session_ended(session=ended) or StrategySuggestion.objects.create(
        student=victim, section=mine, session=ended, strategy="self_explanation", reason="", created_at=timezone.now()
    )

    open_session = services.session_start(student=victim, section=mine)
    metacog_services.reflection_plan_record(student=victim, session=open_session, goal=private("open plan goal"))
    _answer(open_session, text=private("open answer"), key="victim-open-1")
    services.session_item_current(session=open_session)  # the next item is served, unanswered
    attempt = ended.attempts.order_by("pk").first()
    # A registry entry (shared by every school, no student data) that is not served, so no page loads its checkpoint.
    run = TrainingRun.objects.create(request_key="school", algorithm="best", status="succeeded")
    model_version = ModelVersion.objects.create(
        training_run=run, algorithm="best", checkpoint="learner_models/school.pt", checksum="0", status="candidate"
    )
    return {
        "org": org,
        "other_org": other_org,
        "course": course,
        "skill": skill,
        "mine": mine,
        "other_class": other_class,
        "foreign_class": foreign_class,
        "victim": victim,
        "classmate": classmate,
        "other_student": other_student,
        "foreign": foreign,
        "own_teacher": own_teacher,
        "other_teacher": other_teacher,
        "foreign_teacher": foreign_teacher,
        "admin": admin,
        "ended": ended,
        "open": open_session,
        "attempt": attempt,
        "suggestion": suggestion,
        "item": ended.session_items.order_by("position").first().item,
        "enrolment": Enrollment.objects.get(student=victim, section=mine),
        "model_version": model_version,
        # The organisation's unused LTI Dynamic Registration invite (its token is the capability).
        "invite": RegistrationInvite.objects.create(organisation=org, name=authored("lti platform name")),
        # A class-picker launch of the victim's teacher: kept in that teacher's session, so no other browser has it.
        "launch_id": "victims-teachers-launch",
    }


@dataclass(frozen=True)
class Route:
    name: str
    route: str
    params: frozenset[str]

    @property
    def namespace(self) -> str:
        return self.name.split(":", 1)[0] if ":" in self.name else ""


def routes(resolver: URLResolver | None = None, prefix: str = "", namespace: str = "", params=frozenset()):
    """Every named URL pattern with the parameters it takes (its own and those of the includes above it)."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        here = params | frozenset(entry.pattern.regex.groupindex)
        if isinstance(entry, URLResolver):
            inner = ":".join(part for part in (namespace, entry.namespace) if part)
            yield from routes(entry, prefix + str(entry.pattern), inner, here)
        elif isinstance(entry, URLPattern) and entry.name:
            yield Route(f"{namespace}:{entry.name}" if namespace else entry.name, prefix + str(entry.pattern), here)


# Protocol endpoints an LMS posts to from its own origin, so they cannot carry Metis's CSRF token; the
# OIDC state cookie and the signed id_token's nonce stand in for it (tests/lti covers both).
CSRF_EXEMPT = {"lti:login", "lti:launch"}

# The content an API detail URL names, by its collection.
API_COLLECTIONS = {
    "organisations": "org",
    "classes": "mine",
    "students": "victim",
    "enrolments": "enrolment",
    "attempts": "attempt",
    "courses": "course",
    "skills": "skill",
    "items": "item",
    "model-versions": "model_version",
}


def fillings(route: Route, w: dict) -> list[dict[str, int | str]]:
    """Every way to fill the route's parameters with the victim's objects."""
    choices: dict[str, list[int | str]] = {}
    for param in sorted(route.params):
        if param == "student_id":
            choices[param] = [w["victim"].pk]
        elif param == "session_id":
            choices[param] = [w["ended"].pk, w["open"].pk]
        elif param == "section_id":
            choices[param] = [w["mine"].pk]
        elif param == "attempt_id":
            choices[param] = [w["attempt"].pk]
        elif param == "suggestion_id":
            choices[param] = [w["suggestion"].pk]
        elif param == "position":
            choices[param] = [1, 2]
        elif param == "launch_id" and route.name == "lti:pick":
            choices[param] = [w["launch_id"]]
        elif param == "token" and route.name == "lti:register":
            choices[param] = [w["invite"].token]
        elif param == "pk" and route.route.startswith("api/"):
            collection = route.route.rstrip("/").split("/")[-2]
            assert collection in API_COLLECTIONS, f"{route.name}: add /{collection}/ to API_COLLECTIONS"
            choices[param] = [w[API_COLLECTIONS[collection]].pk]
        else:
            pytest.fail(f"{route.name} ({route.route}) takes {param!r}: teach _ids which of the victim's objects it is")
    return [dict(zip(choices, values, strict=True)) for values in product(*choices.values())]
