"""factory_boy factories that keep organisation, class, course and people consistent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import factory
from django.utils import timezone
from rest_framework.test import APIClient

from tutor.models import (
    Attempt,
    Course,
    Enrollment,
    Item,
    Organisation,
    PracticeSession,
    Section,
    SessionItem,
    Skill,
    User,
)
from tutor.services import api_client_create

PASSWORD = "correct-horse-battery"


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"school-{n}")
    name = factory.Sequence(lambda n: f"School {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user-{n}")
    organisation = factory.SubFactory(OrganisationFactory)
    role = User.Role.STUDENT
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        if create:
            instance.save()


class StudentFactory(UserFactory):
    role = User.Role.STUDENT


class TeacherFactory(UserFactory):
    role = User.Role.TEACHER


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Course

    slug = factory.Sequence(lambda n: f"course-{n}")
    title = factory.Sequence(lambda n: f"Course {n}")


class SkillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Skill

    course = factory.SubFactory(CourseFactory)
    slug = factory.Sequence(lambda n: f"skill-{n}")
    name = factory.Sequence(lambda n: f"Skill {n}")
    position = factory.Sequence(lambda n: n)


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Item

    skill = factory.SubFactory(SkillFactory)
    course = factory.SelfAttribute("skill.course")
    slug = factory.Sequence(lambda n: f"item-{n}")
    item_type = "numeric"
    prompt = "What is 6 × 7?"
    answer = {"value": 42, "tolerance": 0}
    hints = ["Think of 6 × 7 as 6 × 5 + 6 × 2.", "6 × 5 = 30 and 6 × 2 = 12."]
    solution = "6 × 7 = 42."


class SectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Section

    organisation = factory.SubFactory(OrganisationFactory)
    course = factory.SubFactory(CourseFactory)
    name = factory.Sequence(lambda n: f"Class {n}")
    session_length = 5


def enrol(student: User, section: Section) -> Enrollment:
    return Enrollment.objects.create(student=student, section=section)


def student_in(section: Section, first_name: str, **kw) -> User:
    """A student of ``section``'s organisation named "<first_name> Test", enrolled in it."""
    student = StudentFactory(organisation=section.organisation, first_name=first_name, last_name="Test", **kw)
    enrol(student, section)
    return student


def serve(session: PracticeSession, item: Item, position: int = 1) -> SessionItem:
    return SessionItem.objects.create(session=session, item=item, position=position, served_at=timezone.now())


def wrong_answer(item: Item) -> str:
    """A well-formed answer that is wrong for ``item`` (any item type)."""
    if item.item_type == "multiple_choice":
        return item.answer["choices"][(item.answer["correct"] + 1) % len(item.answer["choices"])]
    if item.item_type in ("numeric", "fraction"):
        return "987654"
    if item.item_type == "expression":
        variable = (item.answer.get("variables") or ["x"])[0]
        return f"{variable} + 987654"
    return "zzzz"


def api(token: str | None = None) -> APIClient:
    """A REST API client sending ``Authorization: Bearer <token>`` (none: an anonymous caller)."""
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@dataclass
class ApiSchool:
    """An organisation as the API tests meet it: a class of a course of its own, one enrolled student with
    one answer, and two clients (read + write, and read only)."""

    org: Organisation
    section: Section
    item: Item
    student: User
    attempt: Attempt
    token: str  # read + write
    read_token: str


def api_school(slug: str) -> ApiSchool:
    org = Organisation.objects.create(slug=slug, name=slug.title())
    skill = SkillFactory()
    item = ItemFactory(skill=skill)
    section = SectionFactory(organisation=org, course=skill.course)
    student = StudentFactory(organisation=org, external_id=f"{slug}-s1")
    enrol(student, section)
    attempt = Attempt.objects.create(
        student=student,
        item=item,
        skill=skill,
        answer="41",
        correct=False,
        confidence=0.5,
        idempotency_key=f"{slug}-k0",
        created_at=timezone.now() - timedelta(days=2),
    )
    _, token = api_client_create(organisation=org, name="lms", scopes=["read", "write"])
    _, read_token = api_client_create(organisation=org, name="reports", scopes=["read"])
    return ApiSchool(org, section, item, student, attempt, token, read_token)
