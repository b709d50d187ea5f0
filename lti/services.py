"""LTI writes: the tool's keys, what a validated launch does in Metis, score passback and roster sync.

Every function here gets a launch that ``lti.tool`` has already validated (or ids from a task): nothing in
this module trusts a claim that has not passed the signature, issuer, audience, time, nonce and deployment
checks.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import typing as t
from dataclasses import dataclass

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from jwcrypto.jwk import JWK
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.deep_link import DeepLink, TDeepLinkData
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.exception import LtiException
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from pylti1p3.names_roles import NamesRolesProvisioningService
from pylti1p3.registration import Registration
from pylti1p3.roles import DesignerRole, StaffRole, StudentRole, TeacherRole, TeachingAssistantRole

from tutor import services as tutor_services
from tutor.access import sections_managed_by
from tutor.models import Attempt, PracticeSession, Section, User

from . import tool
from .models import LtiUser, Platform, ResourceLink, ScoreSubmission, ToolKey
from .tool import DbToolConf, LaunchRefused, MetisMessageLaunch

log = logging.getLogger(__name__)

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DL_SETTINGS_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
# The custom parameter a deep-linked placement carries: the Metis class its launches practise in.
CLASS_PARAM = "metis_class"
ROSTER_SYNC_EVERY_S = 3600


# --- the tool's keys ------------------------------------------------------------


def _key_generate() -> ToolKey:
    jwk = JWK.generate(kty="RSA", size=2048)
    return ToolKey(
        kid=jwk.thumbprint(),
        private_key_pem=jwk.export_to_pem(private_key=True, password=None).decode(),
        public_key_pem=jwk.export_to_pem().decode(),
        created_at=timezone.now(),
    )


def tool_key_current() -> ToolKey:
    """The key Metis signs with now; the first call on a fresh site makes one."""
    key = ToolKey.objects.filter(retired_at__isnull=True).order_by("-created_at").first()
    if key is not None:
        return key
    with transaction.atomic():
        key = ToolKey.objects.select_for_update().filter(retired_at__isnull=True).order_by("-created_at").first()
        if key is None:
            key = _key_generate()
            key.save()
    return key


def tool_key_rotate(*, grace: dt.timedelta | None = None) -> tuple[ToolKey, int]:
    """Make a new signing key and retire the current one; retired keys stay in the JWKS for ``grace``
    (LTI_KEY_GRACE_DAYS), keys retired longer ago are deleted. Returns the new key and how many were deleted."""
    grace = grace if grace is not None else dt.timedelta(days=settings.LTI_KEY_GRACE_DAYS)
    now = timezone.now()
    with transaction.atomic():
        ToolKey.objects.select_for_update().filter(retired_at__isnull=True).update(retired_at=now)
        key = _key_generate()
        key.save()
        deleted, _ = ToolKey.objects.filter(retired_at__lt=now - grace).delete()
    return key, deleted


# --- launches -------------------------------------------------------------------


def tool_config() -> DbToolConf:
    return DbToolConf(tool_key_current())


def launch_validate(
    *, request: HttpRequest, platform_storage: tool.PlatformStorage = None
) -> tuple[MetisMessageLaunch, Platform]:
    """Every check of the id_token (lti.tool); raises LaunchRefused with the reason. ``platform_storage``: the
    launch's state is checked through the platform's storage instead of a cookie (lti.tool, PlatformStorage)."""
    config = tool_config()
    launch = MetisMessageLaunch(request, config, platform_storage=platform_storage)
    try:
        launch.validate()
    except LtiException as exc:
        raise LaunchRefused(f"This launch was refused: {exc}") from None
    assert config.platform is not None
    return launch, config.platform


@dataclass(frozen=True)
class LaunchOutcome:
    user: User
    kind: t.Literal["practice", "class", "pick_for_link", "deep_link"]
    section: Section | None = None
    session: PracticeSession | None = None
    resource_link: ResourceLink | None = None


def _role(body: t.Mapping[str, t.Any]) -> str:
    if any(r(body).check() for r in (TeacherRole, TeachingAssistantRole, StaffRole, DesignerRole)):
        return User.Role.TEACHER
    if StudentRole(body).check():
        return User.Role.STUDENT
    roles = ", ".join(body.get(CLAIM + "roles") or []) or "none"
    raise LaunchRefused(f"Metis takes learners and instructors; this launch's roles are: {roles}.", status=403)


def _username(platform: Platform, sub: str) -> str:
    digest = hashlib.sha256(f"{platform.organisation_id}|{platform.issuer}|{sub}".encode()).hexdigest()
    return f"lti-{digest[:24]}"


def lti_user_for(*, platform: Platform, sub: str, role: str, claims: t.Mapping[str, t.Any]) -> User:
    """The Metis account of a platform user (iss + sub) in the platform's organisation; made on first sight."""
    if not sub:
        raise LaunchRefused("Anonymous launches (no 'sub') are not supported: Metis keeps each student's progress.")
    names = {
        "first_name": str(claims.get("given_name") or "")[:150],
        "last_name": str(claims.get("family_name") or "")[:150],
        "email": str(claims.get("email") or "")[:254],
    }
    identity = (
        LtiUser.objects.select_related("user")
        .filter(organisation=platform.organisation, issuer=platform.issuer, sub=sub)
        .first()
    )
    if identity is not None:
        user = identity.user
        if user.role != role:
            raise LaunchRefused(
                f"This LMS account is a {user.get_role_display().lower()} in Metis and cannot launch as a "
                f"{User.Role(role).label.lower()}; ask your Metis administrator.",
                status=403,
            )
        if not user.is_active:
            raise LaunchRefused("This Metis account is switched off.", status=403)
        changed = [name for name, value in names.items() if value and getattr(user, name) != value]
        if changed:
            for name in changed:
                setattr(user, name, names[name])
            user.save(update_fields=changed)
        return user
    user = User(username=_username(platform, sub), role=role, organisation=platform.organisation, **names)
    user.set_unusable_password()
    user.save()
    LtiUser.objects.create(organisation=platform.organisation, issuer=platform.issuer, sub=sub, user=user)
    return user


def _organisation_section(platform: Platform, value: object) -> Section | None:
    try:
        pk = int(str(value))
    except ValueError:
        return None
    return Section.objects.filter(pk=pk, organisation=platform.organisation).first()


def _resource_link_record(platform: Platform, body: t.Mapping[str, t.Any]) -> ResourceLink:
    claim = body.get(CLAIM + "resource_link") or {}
    context = body.get(CLAIM + "context") or {}
    ags = body.get(AGS_CLAIM) or {}
    nrps = body.get(NRPS_CLAIM) or {}
    link, _ = ResourceLink.objects.get_or_create(
        platform=platform,
        resource_link_id=str(claim["id"])[:255],
        defaults={"deployment_id": str(body.get(CLAIM + "deployment_id"))[:255]},
    )
    link.deployment_id = str(body.get(CLAIM + "deployment_id"))[:255]
    link.title = str(claim.get("title") or "")[:255]
    link.context_id = str(context.get("id") or "")[:255]
    link.context_title = str(context.get("title") or "")[:255]
    link.lineitem_url = str(ags.get("lineitem") or "")[:500]
    link.ags_scopes = [str(s) for s in ags.get("scope") or []]
    link.memberships_url = str(nrps.get("context_memberships_url") or "")[:500]
    custom = body.get(CLAIM + "custom") or {}
    if CLASS_PARAM in custom:
        section = _organisation_section(platform, custom[CLASS_PARAM])
        if section is None:
            raise LaunchRefused(
                f"This placement names Metis class {custom[CLASS_PARAM]!r}, which {platform.organisation} does not "
                "have. Ask the teacher to choose the class again (edit the placement in the LMS).",
                status=404,
            )
        link.section = section
    link.save()
    return link


@transaction.atomic
def launch_accept(*, platform: Platform, body: t.Mapping[str, t.Any]) -> LaunchOutcome:
    """What a validated launch does: the person's account (made on first launch, in the platform's organisation),
    the placement, and where they land. A refusal leaves nothing behind (one transaction)."""
    message_type = body.get(CLAIM + "message_type")
    if message_type not in ("LtiResourceLinkRequest", "LtiDeepLinkingRequest"):
        raise LaunchRefused(f"Metis does not handle {message_type} messages.")
    role = _role(body)
    if message_type == "LtiDeepLinkingRequest":
        if role != User.Role.TEACHER:
            raise LaunchRefused("Only instructors choose what to add to a course.", status=403)
        user = lti_user_for(platform=platform, sub=str(body.get("sub") or ""), role=role, claims=body)
        return LaunchOutcome(user=user, kind="deep_link")
    link = _resource_link_record(platform, body)
    section = link.section
    if section is None and role == User.Role.STUDENT:
        raise LaunchRefused(
            "Your teacher has not chosen a Metis class for this activity yet. Try again once they have.", status=409
        )
    user = lti_user_for(platform=platform, sub=str(body.get("sub") or ""), role=role, claims=body)
    if section is None:
        return LaunchOutcome(user=user, kind="pick_for_link", resource_link=link)
    try:
        if role == User.Role.STUDENT:
            tutor_services.enrollment_create(student=user, section=section)
            session = tutor_services.session_start(student=user, section=section)
            score_queue_started(session=session, resource_link=link)
            return LaunchOutcome(user=user, kind="practice", section=section, session=session, resource_link=link)
        tutor_services.section_teacher_add(teacher=user, section=section)
    except tutor_services.PracticeError as exc:
        raise LaunchRefused(exc.message, status=403) from None
    roster_sync_queue(resource_link=link)
    return LaunchOutcome(user=user, kind="class", section=section, resource_link=link)


def sections_to_pick(*, user: User, platform: Platform) -> list[Section]:
    """The classes a teacher may attach to a placement: their own, in the platform's organisation."""
    return list(sections_managed_by(user).filter(organisation=platform.organisation).select_related("course"))


def resource_link_attach(*, user: User, platform: Platform, link_id: int, section_id: object) -> Section:
    """A teacher attaches an unlinked placement to one of their classes; later launches go straight there."""
    link = ResourceLink.objects.filter(pk=link_id, platform=platform).first()
    if link is None:
        raise LaunchRefused("No such placement.", status=404)
    section = _pickable(user, platform, section_id)
    updated = ResourceLink.objects.filter(pk=link.pk, section__isnull=True).update(section=section)
    if not updated:
        raise LaunchRefused("This placement already has a class; launch it again to go there.", status=409)
    return section


def _pickable(user: User, platform: Platform, section_id: object) -> Section:
    section = _organisation_section(platform, section_id)
    if section is None or section not in sections_to_pick(user=user, platform=platform):
        raise LaunchRefused("class: choose one of your classes.", status=400)
    return section


def deep_link_response(
    *, user: User, platform: Platform, launch_body: t.Mapping[str, t.Any], section_id: object
) -> tuple[str, str]:
    """The signed LtiDeepLinkingResponse placing one class, and the platform URL to post it to."""
    section = _pickable(user, platform, section_id)
    settings_claim = launch_body.get(DL_SETTINGS_CLAIM) or {}
    return_url = settings_claim.get("deep_link_return_url")
    if not return_url:
        raise LaunchRefused("The deep-linking launch has no return URL.")
    resource = DeepLinkResource()
    resource.set_url(settings.SITE_URL + reverse("lti:launch"))
    resource.set_title(f"Metis practice: {section.name}")
    resource.set_custom_params({CLASS_PARAM: str(section.pk)})
    lineitem = LineItem()
    lineitem.set_score_maximum(section.session_length)
    lineitem.set_label(f"Metis practice: {section.name}")
    lineitem.set_resource_id(f"metis-class-{section.pk}")
    resource.set_lineitem(lineitem)
    registration = tool.registration_for(platform, tool_key_current())
    deep_link = DeepLink(
        registration, str(launch_body.get(CLAIM + "deployment_id")), t.cast(TDeepLinkData, settings_claim)
    )
    return deep_link.get_response_jwt([resource]), str(return_url)


# --- grades ---------------------------------------------------------------------


class ScoreSendFailed(Exception):
    pass


def score_queue_for_session(*, session: PracticeSession) -> list[ScoreSubmission]:
    """After a session ends: a score for each gradebook column (resource link with AGS) of the session's class
    on the platforms the student launched from, each sent by a Celery task once this transaction commits."""
    if session.ended_at is None:
        return []
    issuers = list(LtiUser.objects.filter(user_id=session.student_id).values_list("issuer", flat=True))
    if not issuers:
        return []
    links = ResourceLink.objects.filter(
        section_id=session.section_id,
        platform__issuer__in=issuers,
        platform__organisation_id=session.section.organisation_id,
        platform__is_active=True,
    ).exclude(lineitem_url="")
    answered = Attempt.objects.filter(session=session)
    correct = answered.filter(correct=True).count()
    maximum = max(session.planned_items, answered.count(), 1)
    made = []
    for link in links:
        if SCORE_SCOPE not in link.ags_scopes:
            continue
        submission = _score_queue(
            link, session, ScoreSubmission.Progress.COMPLETED, score_given=correct, score_maximum=maximum
        )
        if submission is not None:
            made.append(submission)
    return made


def _score_queue(
    link: ResourceLink, session: PracticeSession, progress: str, **fields: t.Any
) -> ScoreSubmission | None:
    """One score of this progress for (link, session), made once and sent by a Celery task once this transaction
    commits; None when it already exists (or a concurrent request just made it)."""
    try:
        with transaction.atomic():
            submission, created = ScoreSubmission.objects.get_or_create(
                resource_link=link,
                session=session,
                activity_progress=progress,
                defaults={"student_id": session.student_id, **fields},
            )
    except IntegrityError:
        return None
    if not created:
        return None
    transaction.on_commit(functools.partial(_score_send_enqueue, submission.pk))
    return submission


def score_queue_started(*, session: PracticeSession, resource_link: ResourceLink) -> ScoreSubmission | None:
    """At a student's launch into practice: a "Started" score (no score given, grading not ready) for the
    launched gradebook column, once per session, sent by a Celery task once this transaction commits. The
    platform keeps the newest timestamp, so a "Completed" score sent earlier is never overwritten by it."""
    link = resource_link
    if not link.lineitem_url or SCORE_SCOPE not in link.ags_scopes or not link.platform.is_active:
        return None
    return _score_queue(link, session, ScoreSubmission.Progress.STARTED, grading_progress="NotReady")


def _score_send_enqueue(submission_id: int) -> None:
    # By name: lti.tasks (an entry point) imports this module, not the other way (docs/decisions/0004-layers.md).
    current_app.send_task("lti.tasks.score_send_task", args=[submission_id])


def score_send(*, submission_id: int) -> ScoreSubmission | None:
    """POST one score to the platform's line item (AGS). Safe to run twice: a sent score is not sent again."""
    submission = (
        ScoreSubmission.objects.select_related("resource_link__platform", "session", "student")
        .filter(pk=submission_id)
        .first()
    )
    if submission is None or submission.status == ScoreSubmission.Status.SENT:
        return submission
    link = submission.resource_link
    platform = link.platform
    identity = LtiUser.objects.filter(
        user_id=submission.student_id, issuer=platform.issuer, organisation_id=platform.organisation_id
    ).first()
    if identity is None:
        return None
    grade = Grade()
    started = submission.activity_progress == ScoreSubmission.Progress.STARTED
    if submission.score_given is not None and submission.score_maximum is not None:
        grade.set_score_given(submission.score_given)
        grade.set_score_maximum(submission.score_maximum)
    grade.set_activity_progress(submission.activity_progress)
    grade.set_grading_progress(submission.grading_progress)
    session = submission.session
    # ISO 8601 with sub-second precision, as AGS requires (a datetime would be sent to the second, and a
    # "Started" and a "Completed" score of a short session could then carry the same timestamp)
    when = (session.started_at if started else session.ended_at) or timezone.now()
    grade.set_timestamp(when.isoformat(timespec="microseconds"))
    grade.set_user_id(identity.sub)
    grade.set_comment(
        "Started a Metis practice session"
        if started
        else f"{submission.score_given:g} of {submission.score_maximum:g} right in a Metis practice session"
    )
    registration = tool.registration_for(platform, tool_key_current())
    ags = AssignmentsGradesService(
        tool.service_connector(registration),
        {"scope": link.ags_scopes, "lineitem": link.lineitem_url},
    )
    submission.tries += 1
    try:
        ags.put_grade(grade)
    except Exception as exc:
        submission.status = ScoreSubmission.Status.FAILED
        submission.last_error = str(exc)[:500]
        submission.save(update_fields=["tries", "status", "last_error"])
        raise ScoreSendFailed(str(exc)) from exc
    submission.status = ScoreSubmission.Status.SENT
    submission.sent_at = timezone.now()
    submission.last_error = ""
    submission.save(update_fields=["tries", "status", "sent_at", "last_error"])
    return submission


# --- rosters --------------------------------------------------------------------


class RosterSyncFailed(Exception):
    """The platform's roster service did not answer properly; worth trying again later."""


@dataclass(frozen=True)
class RosterSyncResult:
    students: int
    teachers: int
    skipped: int


def roster_sync(*, resource_link_id: int) -> RosterSyncResult:
    """Names and Role Provisioning: every active member of the placement's LMS course gets a Metis account (found
    by iss + sub, or made) and joins the placement's class as a student or a teacher."""
    link = ResourceLink.objects.select_related("platform", "section").get(pk=resource_link_id)
    if link.section is None or not link.memberships_url:
        raise LaunchRefused("This placement has no class or no roster service.", status=409)
    registration: Registration = tool.registration_for(link.platform, tool_key_current())
    service = NamesRolesProvisioningService(
        tool.service_connector(registration),
        {"context_memberships_url": link.memberships_url},
    )
    try:
        members = service.get_members()
    except LtiException as exc:
        raise RosterSyncFailed(f"The platform's roster service failed: {exc}") from None
    students = teachers = skipped = 0
    for member in members:
        body = {CLAIM + "roles": member.get("roles", [])}
        if member.get("status", "Active") != "Active" or not member.get("user_id"):
            skipped += 1
            continue
        try:
            with transaction.atomic():
                role = _role(body)
                user = lti_user_for(
                    platform=link.platform, sub=str(member["user_id"]), role=role, claims=t.cast(dict, member)
                )
                if role == User.Role.STUDENT:
                    tutor_services.enrollment_create(student=user, section=link.section)
                    students += 1
                else:
                    tutor_services.section_teacher_add(teacher=user, section=link.section)
                    teachers += 1
        except (LaunchRefused, tutor_services.PracticeError):
            skipped += 1
    return RosterSyncResult(students=students, teachers=teachers, skipped=skipped)


def roster_sync_queue(*, resource_link: ResourceLink) -> bool:
    """A teacher's launch brings the course roster in (a Celery task after commit), at most once an hour per
    placement, so the class overview lists students who have not launched yet."""
    if resource_link.section_id is None or not resource_link.memberships_url:
        return False
    if not cache.add(f"lti:roster-queued:{resource_link.pk}", True, ROSTER_SYNC_EVERY_S):
        return False
    transaction.on_commit(
        functools.partial(current_app.send_task, "lti.tasks.roster_sync_task", args=[resource_link.pk])
    )
    return True


def resource_links_for_roster(*, platform_id: int | None = None) -> list[int]:
    links = ResourceLink.objects.filter(section__isnull=False).exclude(memberships_url="")
    if platform_id is not None:
        links = links.filter(platform_id=platform_id)
    return list(links.filter(platform__is_active=True).values_list("pk", flat=True))
