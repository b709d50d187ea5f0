"""Grade passback, deep linking, roster sync and the tool's keys, against the test LMS."""

from __future__ import annotations

import datetime as dt
import json
import re

import jwt
import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from jwt.algorithms import RSAAlgorithm

from lti import services as lti_services
from lti.models import LtiUser, ResourceLink, ScoreSubmission, ToolKey
from lti.tasks import score_send_task
from tests.factories import SectionFactory, StudentFactory, TeacherFactory, enrol
from tests.lti.platform import CLAIM, ROLE_INSTRUCTOR, ROLE_LEARNER
from tutor.models import Enrollment, PracticeSession, User

pytestmark = pytest.mark.django_db


def _answer(client, session: PracticeSession, answers: list[str]) -> None:
    for position, answer in enumerate(answers, 1):
        page = client.get(reverse("practice", args=[session.pk]), secure=True)
        key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page.content.decode()).group(1)
        response = client.post(
            reverse("practice_answer", args=[session.pk, position]),
            {"answer": answer, "confidence": "0.75", "idempotency_key": key},
            headers={"HX-Request": "true"},
            secure=True,
        )
        assert response.status_code == 200


@pytest.fixture
def queued(monkeypatch):
    sent: list[tuple[str, list]] = []

    class App:
        def send_task(self, name, args):
            sent.append((name, args))

    monkeypatch.setattr(lti_services, "current_app", App())
    return sent


# --- Assignment and Grade Services ---------------------------------------------------


def test_ending_practice_sends_the_score_to_the_gradebook(lms, client, queued, django_capture_on_commit_callbacks):
    lms.launch(client)
    session = PracticeSession.objects.get()
    _answer(client, session, ["42", "7", "42"])  # 2 of 3 right; the class plans 5 items
    with django_capture_on_commit_callbacks(execute=True):
        end = client.post(reverse("practice_end", args=[session.pk]), secure=True)
    assert end.status_code == 302
    submission = ScoreSubmission.objects.get(activity_progress="Completed")
    assert queued == [("lti.tasks.score_send_task", [submission.pk])]
    assert lms.platform.scores == []  # nothing is sent inside the request

    assert score_send_task(submission.pk) == "sent"
    [score] = lms.platform.scores
    session.refresh_from_db()
    assert score["userId"] == "student-1"
    assert score["scoreGiven"] == 2 and score["scoreMaximum"] == 5
    assert score["activityProgress"] == "Completed" and score["gradingProgress"] == "FullyGraded"
    assert score["timestamp"].startswith(session.ended_at.strftime("%Y-%m-%dT%H:%M:%S"))
    assert "2 of 5 right" in score["comment"]
    # The scores POST went to the line item with a token the LMS issued for Metis's signed client assertion.
    scores_request = [r for r in lms.platform.requests if r.url.endswith("/scores")][0]
    assert scores_request.url == lms.platform.lineitem_url + "/scores"
    assert scores_request.headers["Authorization"].removeprefix("Bearer ") in lms.platform.issued_tokens

    # Run twice (a redelivered task): nothing is sent twice.
    assert score_send_task(submission.pk) == "sent"
    assert len(lms.platform.scores) == 1
    submission.refresh_from_db()
    assert submission.status == ScoreSubmission.Status.SENT and submission.tries == 1


def test_a_gradebook_that_fails_is_retried_and_the_error_kept(lms, client, queued, monkeypatch):
    lms.launch(client)
    session = PracticeSession.objects.get()
    _answer(client, session, ["42"])
    client.post(reverse("practice_end", args=[session.pk]), secure=True)
    submission = ScoreSubmission.objects.get(activity_progress="Completed")
    real = lms.platform.handle
    monkeypatch.setattr(
        lms.platform, "handle", lambda r: (503, {"error": "down"}, {}) if r.url.endswith("/scores") else real(r)
    )
    with pytest.raises(lti_services.ScoreSendFailed):
        lti_services.score_send(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.status == ScoreSubmission.Status.FAILED and submission.tries == 1 and submission.last_error
    monkeypatch.setattr(lms.platform, "handle", real)
    assert lti_services.score_send(submission_id=submission.pk).status == ScoreSubmission.Status.SENT
    assert lms.platform.scores[0]["scoreGiven"] == 1


def test_a_launch_into_practice_tells_the_gradebook_the_student_has_started(
    lms, client, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        lms.launch(client)
    session = PracticeSession.objects.get()
    started = ScoreSubmission.objects.get()
    assert started.activity_progress == "Started" and started.score_given is None
    assert queued == [("lti.tasks.score_send_task", [started.pk])]
    assert score_send_task(started.pk) == "sent"
    [score] = lms.platform.scores
    assert score["activityProgress"] == "Started" and score["gradingProgress"] == "NotReady"
    assert "scoreGiven" not in score and "scoreMaximum" not in score  # no grade yet, not a zero
    assert score["timestamp"].startswith(session.started_at.strftime("%Y-%m-%dT%H:%M:%S"))

    lms.launch(client)  # launching again into the same open session: no second "Started"
    assert ScoreSubmission.objects.filter(activity_progress="Started").count() == 1
    _answer(client, session, ["42"])
    client.post(reverse("practice_end", args=[session.pk]), secure=True)
    completed = ScoreSubmission.objects.get(activity_progress="Completed")
    assert score_send_task(completed.pk) == "sent"
    assert [s["activityProgress"] for s in lms.platform.scores] == ["Started", "Completed"]
    stamps = [dt.datetime.fromisoformat(s["timestamp"]) for s in lms.platform.scores]
    assert stamps == [session.started_at, PracticeSession.objects.get().ended_at]  # to the microsecond
    assert stamps[1] > stamps[0]


def test_no_score_for_practice_outside_lti(lms, client, queued):
    student = StudentFactory(organisation=lms.section.organisation)
    enrol(student, lms.section)
    lms.launch(client)  # the class has a placement with a gradebook column
    client.force_login(student)
    start = client.post(reverse("practice_start", args=[lms.section.pk]), secure=True)
    session = PracticeSession.objects.get(student=student)
    assert start["Location"] == reverse("practice", args=[session.pk])
    client.post(reverse("practice_end", args=[session.pk]), secure=True)
    assert not ScoreSubmission.objects.filter(student=student).exists()


# --- Deep Linking 2.0 ------------------------------------------------------------------


def _teacher_with_class(lms) -> User:
    teacher = TeacherFactory(organisation=lms.section.organisation)
    lms.section.teachers.add(teacher)
    LtiUser.objects.create(
        organisation=lms.section.organisation, issuer=lms.platform.issuer, sub="teacher-1", user=teacher
    )
    return teacher


def _tool_public_key(client, kid: str):
    keys = client.get("/.well-known/jwks.json").json()["keys"]
    return RSAAlgorithm.from_jwk(json.dumps(next(k for k in keys if k["kid"] == kid)))


def test_deep_link_returns_a_signed_placement_of_the_chosen_class(lms, client):
    _teacher_with_class(lms)
    other = SectionFactory(organisation=lms.section.organisation, course=lms.section.course)  # not theirs
    launch = lms.launch(client, deep_link=True)
    pick_url = launch["Location"]
    assert pick_url.startswith("/lti/pick/")
    page = client.get(pick_url, secure=True).content.decode()
    assert "Maths 7B" in page and other.name not in page

    refused = client.post(pick_url, {"class": other.pk}, secure=True)
    assert refused.status_code == 400 and b"class: choose one of your classes" in refused.content

    response = client.post(pick_url, {"class": lms.section.pk}, secure=True)
    html = response.content.decode()
    assert f'action="{lms.platform.deep_link_return_url}"' in html
    token = re.search(r'name="JWT" value="([^"]+)"', html).group(1)
    kid = jwt.get_unverified_header(token)["kid"]
    claims = jwt.decode(
        token,
        _tool_public_key(client, kid),
        algorithms=["RS256"],
        audience=lms.platform.issuer,
        issuer=lms.platform.client_id,
    )
    assert claims[CLAIM + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[CLAIM + "deployment_id"] == lms.platform.deployment_id
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque-platform-data"
    [item] = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert item["type"] == "ltiResourceLink"
    assert item["url"] == "https://metis.example.org/lti/launch/"
    assert item["custom"] == {"metis_class": str(lms.section.pk)}
    assert item["lineItem"]["scoreMaximum"] == lms.section.session_length
    # The launch is used up: posting again is refused.
    assert client.post(pick_url, {"class": lms.section.pk}, secure=True).status_code == 404

    # The LMS now launches students into that placement with the custom parameter; they land in the class.
    client.logout()
    student = lms.launch(client, sub="student-9", **{CLAIM + "resource_link": {"id": "new-link"}})
    assert student["Location"].startswith("/practice/")
    assert ResourceLink.objects.get(resource_link_id="new-link").section == lms.section


def test_students_cannot_deep_link(lms, client):
    auth = lms.login(client)
    body = lms.platform.deep_link_claims(nonce=auth["nonce"], sub="student-3")
    body[CLAIM + "roles"] = [ROLE_LEARNER]
    refused = lms.post_launch(client, id_token=lms.platform.sign(body), state=auth["state"])
    assert refused.status_code == 403
    assert not User.objects.filter(lti_identity__sub="student-3").exists()


def test_the_picker_belongs_to_the_launching_teacher_only(lms, client):
    _teacher_with_class(lms)
    pick_url = lms.launch(client, deep_link=True)["Location"]
    assert client.get(pick_url, secure=True).status_code == 200
    from django.test import Client

    anonymous = Client()
    assert anonymous.get(pick_url, secure=True).status_code == 302  # to the login page
    intruder = Client()
    intruder.force_login(TeacherFactory(organisation=lms.section.organisation))
    assert intruder.get(pick_url, secure=True).status_code == 404


# --- Names and Role Provisioning -------------------------------------------------------


def test_roster_sync_brings_the_course_members_into_the_class(lms, client):
    lms.launch(client)  # records the placement and its memberships URL
    lms.platform.members = [
        {"user_id": "student-1", "roles": [ROLE_LEARNER], "status": "Active", "given_name": "Ada"},
        {"user_id": "student-2", "roles": [ROLE_LEARNER], "status": "Active", "given_name": "Grace"},
        {"user_id": "teacher-7", "roles": [ROLE_INSTRUCTOR], "status": "Active", "family_name": "Noether"},
        {"user_id": "student-gone", "roles": [ROLE_LEARNER], "status": "Inactive"},
    ]
    call_command("lti_roster_sync")
    call_command("lti_roster_sync")  # idempotent
    students = set(Enrollment.objects.filter(section=lms.section).values_list("student__lti_identity__sub", flat=True))
    assert students == {"student-1", "student-2"}
    assert set(lms.section.teachers.values_list("lti_identity__sub", flat=True)) == {"teacher-7"}
    assert User.objects.get(lti_identity__sub="student-2").organisation == lms.section.organisation
    assert LtiUser.objects.filter(sub="student-1").count() == 1
    assert not LtiUser.objects.filter(sub="student-gone").exists()


def test_roster_sync_of_an_unknown_link_names_it(lms):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--link: no resource link 4242"):
        call_command("lti_roster_sync", "--link", "4242")


# --- the tool's keys -------------------------------------------------------------------


def test_jwks_serves_public_keys_only_at_both_addresses(lms, client):
    for url in ("/.well-known/jwks.json", "/lti/jwks/"):
        keys = client.get(url).json()["keys"]
        assert [k["kid"] for k in keys] == [ToolKey.objects.get().kid]
        assert keys[0]["alg"] == "RS256" and keys[0]["use"] == "sig" and keys[0]["kty"] == "RSA"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(keys[0])


def test_rotation_keeps_the_old_key_published_for_the_grace_period(lms, client, capsys):
    old = ToolKey.objects.get()
    call_command("lti_rotate_key")
    new = ToolKey.objects.exclude(pk=old.pk).get()
    assert new.kid in capsys.readouterr().out
    kids = [k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]]
    assert kids == [new.kid, old.kid]
    assert lti_services.tool_key_current() == new
    # Past the grace period the old key leaves the keyset, and the next rotation deletes it.
    ToolKey.objects.filter(pk=old.pk).update(retired_at=timezone.now() - dt.timedelta(days=8))
    assert [k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]] == [new.kid]
    call_command("lti_rotate_key")
    assert not ToolKey.objects.filter(pk=old.pk).exists()


def test_rotate_refuses_a_negative_grace(lms):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--grace-days"):
        call_command("lti_rotate_key", "--grace-days", "-1")


def test_admin_registers_platforms_and_never_shows_private_keys(lms, admin_client):
    assert admin_client.get("/admin/lti/platform/add/").status_code == 200
    page = admin_client.get(f"/admin/lti/platform/{lms.registration.pk}/change/").content.decode()
    assert lms.platform.key_set_url in page and "deployment-1" in page
    key = ToolKey.objects.get()
    page = admin_client.get(f"/admin/lti/toolkey/{key.pk}/change/").content.decode()
    assert "PUBLIC KEY" in page and "PRIVATE KEY" not in page


def test_a_teacher_launch_queues_a_roster_sync_at_most_hourly(
    lms, client, monkeypatch, django_capture_on_commit_callbacks
):
    from lti.tasks import roster_sync_task

    sent = []
    monkeypatch.setattr(lti_services.current_app, "send_task", lambda name, args: sent.append((name, args)))
    lms.platform.members = [{"user_id": "student-5", "roles": [ROLE_LEARNER], "status": "Active"}]
    with django_capture_on_commit_callbacks(execute=True):
        lms.launch(client, sub="teacher-1", roles=[ROLE_INSTRUCTOR])
    link = ResourceLink.objects.get()
    assert sent == [("lti.tasks.roster_sync_task", [link.pk])]
    with django_capture_on_commit_callbacks(execute=True):
        lms.launch(client, sub="teacher-1", roles=[ROLE_INSTRUCTOR])
    assert len(sent) == 1  # not again within the hour
    assert roster_sync_task(link.pk) == {"students": 1, "teachers": 0, "skipped": 0}
    assert Enrollment.objects.filter(section=lms.section, student__lti_identity__sub="student-5").exists()


def test_a_failing_roster_service_is_retried_not_dropped(lms, client, monkeypatch):
    lms.launch(client)
    link = ResourceLink.objects.get()
    real = lms.platform.handle
    monkeypatch.setattr(lms.platform, "handle", lambda r: (500, {}, {}) if "memberships" in r.url else real(r))
    with pytest.raises(lti_services.RosterSyncFailed):
        lti_services.roster_sync(resource_link_id=link.pk)


def test_admin_refuses_a_class_of_another_organisation_for_a_placement(lms, client, admin_client):
    lms.launch(client)
    link = ResourceLink.objects.get()
    foreign = SectionFactory()
    response = admin_client.post(f"/admin/lti/resourcelink/{link.pk}/change/", {"section": foreign.pk})
    assert response.status_code == 200 and "belongs to" in response.content.decode()
    link.refresh_from_db()
    assert link.section == lms.section
    other = SectionFactory(organisation=lms.section.organisation)
    response = admin_client.post(f"/admin/lti/resourcelink/{link.pk}/change/", {"section": other.pk})
    assert response.status_code == 302
    link.refresh_from_db()
    assert link.section == other
