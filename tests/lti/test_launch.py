"""Login initiation and launch against the test LMS: where each person lands, and every refusal."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from lti.models import LaunchNonce, LtiUser, ResourceLink
from tests.factories import TeacherFactory
from tests.lti.platform import CLAIM, ROLE_INSTRUCTOR, SigningKey
from tutor.models import Enrollment, PracticeSession, User


def _created_nothing() -> None:
    assert not LtiUser.objects.exists()
    assert not User.objects.exists()
    assert not Enrollment.objects.exists()
    assert not PracticeSession.objects.exists()
    assert not ResourceLink.objects.exists()


def test_login_redirects_to_the_platform_with_state_cookie_and_nonce(lms, client):
    auth = lms.login(client)
    assert auth["client_id"] == lms.platform.client_id
    assert auth["redirect_uri"] == "https://metis.example.org/lti/launch/"
    assert auth["response_type"] == "id_token" and auth["response_mode"] == "form_post" and auth["scope"] == "openid"
    assert auth["login_hint"] == "opaque-user-hint" and auth["lti_message_hint"] == "opaque-message-hint"
    cookie = client.cookies[f"lti1p3-{auth['state']}"]
    assert cookie.value == auth["state"]
    assert cookie["samesite"] == "None" and cookie["secure"]
    assert LaunchNonce.objects.filter(nonce=auth["nonce"], used_at__isnull=True).exists()


def test_login_from_an_unregistered_platform_is_refused(lms, client):
    response = client.get(
        "/lti/login/",
        {"iss": "https://other.example", "login_hint": "x", "target_link_uri": "https://metis.example.org/lti/launch/"},
        secure=True,
    )
    assert response.status_code == 400
    assert b"registered" in response.content
    assert not LaunchNonce.objects.exists()


def test_login_without_login_hint_names_it(lms, client):
    response = client.get("/lti/login/", {"iss": lms.platform.issuer, "target_link_uri": "x"}, secure=True)
    assert response.status_code == 400
    assert b"login_hint" in response.content


def test_student_launch_lands_in_practice_in_the_linked_class(lms, client):
    client.get("/login/", secure=True)  # a session cookie from before the launch
    before = client.cookies.get(settings.SESSION_COOKIE_NAME)
    response = lms.launch(client)
    assert response.status_code == 302
    student = User.objects.get(lti_identity__sub="student-1", lti_identity__issuer=lms.platform.issuer)
    assert student.role == User.Role.STUDENT and student.organisation == lms.section.organisation
    assert (student.first_name, student.last_name, student.email) == ("Ada", "Lovelace", "student-1@example.edu")
    assert not student.has_usable_password()
    assert Enrollment.objects.filter(student=student, section=lms.section).exists()
    session = PracticeSession.objects.get(student=student, section=lms.section)
    assert response["Location"] == f"/practice/{session.pk}/"
    # The session id is new, and its cookie is sent inside the LMS's iframe (kept there where third-party cookies
    # are blocked: Partitioned).
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert before is None or cookie.value != before.value
    assert "SameSite=None; Partitioned" in cookie.OutputString() and cookie["secure"]
    link = ResourceLink.objects.get(platform=lms.registration, resource_link_id="link-1")
    assert link.section == lms.section and link.lineitem_url == lms.platform.lineitem_url
    page = client.get(response["Location"], secure=True)
    assert page.status_code == 200
    assert "X-Frame-Options" not in page
    assert "https://lms.example.edu" in page["Content-Security-Policy"]
    assert page["Content-Security-Policy"].startswith("frame-ancestors")


def test_a_second_launch_finds_the_same_student_and_rotates_the_session(lms, client):
    lms.launch(client)
    first = client.cookies[settings.SESSION_COOKIE_NAME].value
    lms.launch(client)
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != first
    assert User.objects.count() == 1 and LtiUser.objects.count() == 1
    assert PracticeSession.objects.count() == 1  # the open session resumes


def test_ordinary_logins_keep_lax_cookies_and_no_framing(lms, client):
    teacher = TeacherFactory(organisation=lms.section.organisation)
    client.force_login(teacher)
    page = client.get("/", secure=True)
    assert page["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" not in page


def test_teacher_launch_lands_on_the_class_and_becomes_its_teacher(lms, client):
    response = lms.launch(client, sub="teacher-1", roles=[ROLE_INSTRUCTOR])
    teacher = User.objects.get(lti_identity__sub="teacher-1")
    assert teacher.role == User.Role.TEACHER
    assert response["Location"] == f"/classes/{lms.section.pk}/"
    assert lms.section.teachers.filter(pk=teacher.pk).exists()
    assert client.get(response["Location"], secure=True).status_code == 200


def test_student_of_an_unlinked_placement_is_told_and_nothing_is_made(lms, client):
    response = lms.launch(client, linked=False)
    assert response.status_code == 409
    assert b"has not chosen a Metis class" in response.content
    _created_nothing()


def test_teacher_links_an_unlinked_placement_then_students_land_there(lms, client):
    teacher = TeacherFactory(organisation=lms.section.organisation)
    lms.section.teachers.add(teacher)
    LtiUser.objects.create(
        organisation=lms.section.organisation, issuer=lms.platform.issuer, sub="teacher-1", user=teacher
    )
    response = lms.launch(client, linked=False, sub="teacher-1", roles=[ROLE_INSTRUCTOR])
    assert response["Location"].startswith("/lti/pick/")
    page = client.get(response["Location"], secure=True)
    assert b"Maths 7B" in page.content
    bad = client.post(response["Location"], {"class": "999999"}, secure=True)
    assert bad.status_code == 400 and b"class: choose one of your classes" in bad.content
    assert ResourceLink.objects.get().section is None
    done = client.post(response["Location"], {"class": lms.section.pk}, secure=True)
    assert done["Location"] == f"/classes/{lms.section.pk}/"
    assert ResourceLink.objects.get().section == lms.section
    client.logout()
    student = lms.launch(client, linked=False)
    assert student.status_code == 302 and student["Location"].startswith("/practice/")


def test_a_foreign_class_in_the_custom_parameter_is_refused(lms, client):
    from tests.factories import SectionFactory

    foreign = SectionFactory()
    response = lms.launch(client, **{CLAIM + "custom": {"metis_class": str(foreign.pk)}})
    assert response.status_code == 404
    _created_nothing()


def test_a_role_outside_learner_and_instructor_is_refused(lms, client):
    response = lms.launch(client, roles=["http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"])
    assert response.status_code == 403
    assert b"Mentor" in response.content
    _created_nothing()


# --- every rejection of the id_token: a 4xx page, nothing created --------------------------------------


def _other_key_same_kid(lms):
    impostor = SigningKey(kid=lms.platform.key.kid)
    return lambda body: lms.platform.sign(body, key=impostor)


REJECTIONS = {
    "bad signature": (lambda lms: {"sign": _other_key_same_kid(lms)}, b"Signature verification failed"),
    "alg none": (lambda lms: {"sign": lambda body: lms.platform.sign(body, alg="none")}, b"RS256"),
    "HS256 with the public key": (
        lambda lms: {"sign": lambda body: lms.platform.sign(body, alg="HS256-with-public-key")},
        b"RS256",
    ),
    "wrong iss": (lambda lms: {"iss": "https://evil.example"}, b"Registration not found"),
    "wrong aud": (lambda lms: {"aud": "someone-else"}, b"Registration not found"),
    "aud without the client": (lambda lms: {"aud": ["x", "y"], "azp": "x"}, b"Registration not found"),
    "azp not the client": (
        lambda lms: {"aud": [lms.platform.client_id, "other"], "azp": "other"},
        b"azp is not this tool",
    ),
    "expired": (lambda lms: {"exp": int(time.time()) - 120, "iat": int(time.time()) - 600}, b"expired"),
    "no exp": (lambda lms: {"exp": None}, b"exp"),
    "iat in the future": (lambda lms: {"iat": int(time.time()) + 3600}, b"not yet valid"),
    "unknown deployment": (
        lambda lms: {CLAIM + "deployment_id": "deployment-of-someone-else"},
        b"deployment ID",
    ),
    "unknown kid, even after a refetch": (
        lambda lms: {"sign": lambda body: lms.platform.sign(body, kid="never-published")},
        b"Unable to find public key",
    ),
}


@pytest.mark.parametrize("case", REJECTIONS)
def test_a_bad_id_token_is_refused_and_nothing_is_created(lms, client, case):
    make, reason = REJECTIONS[case]
    response = lms.launch(client, **make(lms))
    assert 400 <= response.status_code < 500
    assert reason in response.content, response.content.decode()[:2000]
    _created_nothing()
    assert (
        settings.SESSION_COOKIE_NAME not in response.cookies or not response.cookies[settings.SESSION_COOKIE_NAME].value
    )


def test_missing_state_is_refused(lms, client):
    auth = lms.login(client)
    response = lms.post_launch(client, id_token=lms.platform.sign(lms.platform.claims(nonce=auth["nonce"])), state=None)
    assert response.status_code == 400 and b"Missing state" in response.content
    _created_nothing()


def test_wrong_state_is_refused(lms, client):
    auth = lms.login(client)
    token = lms.platform.sign(lms.platform.claims(nonce=auth["nonce"]))
    response = lms.post_launch(client, id_token=token, state="state-made-up")
    assert response.status_code == 400 and b"State not found" in response.content
    _created_nothing()


def test_state_from_another_browser_is_refused(lms, client, django_user_model):
    from django.test import Client

    auth = lms.login(client)
    token = lms.platform.sign(lms.platform.claims(nonce=auth["nonce"]))
    response = lms.post_launch(Client(), id_token=token, state=auth["state"])  # no state cookie
    assert response.status_code == 400 and b"State not found" in response.content
    _created_nothing()


def test_a_replayed_nonce_is_refused(lms, client):
    auth = lms.login(client)
    token = lms.platform.sign(
        lms.platform.claims(nonce=auth["nonce"], **{CLAIM + "custom": {"metis_class": str(lms.section.pk)}})
    )
    assert lms.post_launch(client, id_token=token, state=auth["state"]).status_code == 302
    users = User.objects.count()
    # The same id_token again, with a fresh state cookie from a new login: the nonce is spent.
    again = lms.login(client)
    response = lms.post_launch(client, id_token=token, state=again["state"])
    assert response.status_code == 400 and b"Invalid Nonce" in response.content
    assert User.objects.count() == users


def test_a_nonce_metis_never_issued_is_refused(lms, client):
    auth = lms.login(client)
    token = lms.platform.sign(lms.platform.claims(nonce="made-up-nonce"))
    response = lms.post_launch(client, id_token=token, state=auth["state"])
    assert response.status_code == 400 and b"Invalid Nonce" in response.content
    _created_nothing()


def test_a_refused_token_does_not_spend_the_nonce(lms, client):
    auth = lms.login(client)
    body = lms.platform.claims(nonce=auth["nonce"], **{CLAIM + "custom": {"metis_class": str(lms.section.pk)}})
    assert lms.post_launch(client, id_token=lms.platform.sign(body, alg="none"), state=auth["state"]).status_code == 400
    assert lms.post_launch(client, id_token=lms.platform.sign(body), state=auth["state"]).status_code == 302


def test_unknown_kid_refetches_the_keyset_once_and_succeeds(lms, client):
    assert lms.launch(client).status_code == 302  # keyset fetched and cached
    fetches = lambda: sum(1 for r in lms.platform.requests if r.url == lms.platform.key_set_url)  # noqa: E731
    assert fetches() == 1
    client.logout()
    lms.launch(client)
    assert fetches() == 1  # the cached keyset served the second launch
    lms.platform.rotate_key()  # the LMS signs with a key Metis has not seen
    client.logout()
    response = lms.launch(client, sub="student-2")
    assert response.status_code == 302
    assert fetches() == 2
    assert User.objects.filter(lti_identity__sub="student-2").exists()


def test_erasing_a_launched_student_removes_their_lms_identity(lms, client):
    from tutor.privacy_services import student_erase

    lms.launch(client)
    student = User.objects.get(lti_identity__sub="student-1")
    student_erase(student=student, reason="command", requested_by="test")
    assert not LtiUser.objects.exists() and not User.objects.filter(pk=student.pk).exists()
    # A later launch by the same LMS user starts afresh.
    client.logout()
    assert lms.launch(client).status_code == 302
    assert LtiUser.objects.filter(sub="student-1").count() == 1


def test_login_initiation_may_be_posted(lms, client):
    response = client.post(
        "/lti/login/",
        {
            "iss": lms.platform.issuer,
            "login_hint": "x",
            "target_link_uri": "https://metis.example.org/lti/launch/",
            "client_id": lms.platform.client_id,
        },
        secure=True,
    )
    assert response.status_code == 200 and b"checkCookiesAllowed" in response.content
    assert "X-Frame-Options" not in response
    # The page's script reloads the login by GET with the posted parameters and lti1p3_new_window=1.
    assert b'"iss": "https://lms.example.edu"' in response.content and b'"lti1p3_new_window": "1"' in response.content


def test_an_expired_nonce_is_refused_and_old_ones_are_swept(lms, client):
    import datetime as dt

    from django.utils import timezone

    auth = lms.login(client)
    LaunchNonce.objects.filter(nonce=auth["nonce"]).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    token = lms.platform.sign(lms.platform.claims(nonce=auth["nonce"]))
    response = lms.post_launch(client, id_token=token, state=auth["state"])
    assert response.status_code == 400 and b"Invalid Nonce" in response.content
    _created_nothing()
    LaunchNonce.objects.update(expires_at=timezone.now() - dt.timedelta(days=2))
    lms.login(client)
    assert LaunchNonce.objects.count() == 1


def test_a_switched_off_platform_cannot_launch(lms, client):
    lms.registration.is_active = False
    lms.registration.save()
    response = client.get(
        "/lti/login/",
        {"iss": lms.platform.issuer, "login_hint": "x", "target_link_uri": "x", "client_id": lms.platform.client_id},
        secure=True,
    )
    assert response.status_code == 400
    _created_nothing()


def test_a_student_account_cannot_launch_as_an_instructor(lms, client):
    lms.launch(client)
    client.logout()
    response = lms.launch(client, roles=[ROLE_INSTRUCTOR])
    assert response.status_code == 403 and b"is a student in Metis" in response.content
    assert not lms.section.teachers.exists()


def test_an_anonymous_launch_is_refused(lms, client):
    response = lms.launch(client, sub=None)
    assert response.status_code == 400 and b"Must have a user (sub)" in response.content
    _created_nothing()


@pytest.mark.parametrize("claim", ["iss", "aud", "nonce", "sub", CLAIM + "deployment_id", CLAIM + "resource_link"])
@pytest.mark.parametrize("value", [{"x": 1}, [[1]], 7])
def test_claims_of_the_wrong_type_are_refused_not_a_server_error(lms, client, claim, value):
    response = lms.launch(client, **{claim: value})
    assert 400 <= response.status_code < 500
    _created_nothing()


def test_garbage_id_tokens_are_refused(lms, client):
    for token in ("", "abc", "a.b.c", "e30.e30.", "!!!.???.###"):
        auth = lms.login(client)
        response = lms.post_launch(client, id_token=token, state=auth["state"])
        assert response.status_code == 400, token
    _created_nothing()
