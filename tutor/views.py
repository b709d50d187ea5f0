"""Pages. Each view parses, checks access through ``tutor.access``, calls one service or selector, renders."""

from __future__ import annotations

import hmac
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lti import services as lti_services
from metacog import selectors as metacog_selectors
from metacog import services as metacog_services

from . import access, selectors, services
from .answers import correct_answer_display
from .health import health_report
from .http import AuthedRequest
from .models import CONFIDENCE_SCALE, Attempt, PracticeSession, SchedulingRule, Section, SessionItem
from .templatetags.tutor_extras import percent

CONFIDENCE_CHOICES = [(str(p), label, percent(p)) for p, label in CONFIDENCE_SCALE]


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The status for anyone (the status code is what a load balancer reads); which part is down, the
    error texts (hosts, ports) and the model's details only for operators or with ``HEALTHZ_TOKEN``."""
    report = health_report()
    body = report if _may_see_health_details(request) else {"status": report["status"]}
    return JsonResponse(body, status=200 if report["status"] == "ok" else 503)


def _may_see_health_details(request: HttpRequest) -> bool:
    token = settings.HEALTHZ_TOKEN
    if token and hmac.compare_digest(request.headers.get("Authorization", "").encode(), f"Bearer {token}".encode()):
        return True
    try:
        return access.can_view_health_details(request.user)
    except Exception:  # the session cannot be read (the database is down, say): answer as to anyone
        return False


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever a page links to; send them to the icon every page links to."""
    return redirect(static("favicon.svg"), permanent=True)


@login_required
@require_GET
def home(request: AuthedRequest) -> HttpResponse:
    user = request.user
    if user.is_student:
        return render(
            request,
            "tutor/student_home.html",
            {
                "sections": selectors.sections_for_student(student=user),
                "sessions": selectors.sessions_for_student(student=user),
            },
        )
    visible = access.sections_visible_to(user)
    sections = visible.filter(archived_at__isnull=True).prefetch_related("enrollments__student")
    archived = visible.filter(archived_at__isnull=False).order_by("-archived_at")  # kept, off the main list
    return render(request, "tutor/staff_home.html", {"sections": sections, "archived": archived})


def _own_session(request: AuthedRequest, session_id: int) -> PracticeSession:
    session = get_object_or_404(PracticeSession.objects.select_related("section__course"), pk=session_id)
    if not access.can_act_in_session(request.user, session):
        raise Http404("No such session")  # do not reveal that another student's session exists
    return session


@login_required
@require_POST
def practice_start(request: AuthedRequest, section_id: int) -> HttpResponse:
    section = get_object_or_404(Section, pk=section_id)
    try:
        session = services.session_start(student=request.user, section=section)
    except services.PracticeError:
        raise Http404("No such class") from None
    return redirect("practice", session_id=session.pk)


def _item_context(session: PracticeSession, session_item: SessionItem, **extra: object) -> dict:
    item = session_item.item
    # The radio buttons send the option's text, which is what is stored and shown back (never its position).
    choices = list(item.answer.get("choices", [])) if item.item_type == "multiple_choice" else []
    return {
        "session": session,
        "si": session_item,
        "item": item,
        "choices": choices,
        "hints": item.hints[: session_item.hints_shown],
        "more_hints": session_item.hints_shown < len(item.hints),
        "confidence_choices": CONFIDENCE_CHOICES,
        "idempotency_key": uuid.uuid4().hex,
        **metacog_selectors.item_extras(session=session, session_item=session_item),
        **extra,
    }


@login_required
@require_GET
@never_cache
def practice(request: AuthedRequest, session_id: int) -> HttpResponse:
    session = _own_session(request, session_id)
    if not session.is_open:
        return redirect("practice_summary", session_id=session.pk)
    session_item = services.session_item_current(session=session)
    if session_item is None:
        services.session_end(session=session)
        metacog_services.session_ended(session=session)
        lti_services.score_queue_for_session(session=session)
        return redirect("practice_summary", session_id=session.pk)
    return render(request, "tutor/practice.html", _item_context(session, session_item))


def _feedback_context(session: PracticeSession, attempt: Attempt, *, not_recorded: str | None = None) -> dict:
    item = attempt.item
    return {
        "not_recorded": not_recorded,
        "session": session,
        "attempt": attempt,
        "item": item,
        "correct_answer": correct_answer_display(item.item_type, item.answer),
        "hints": item.hints,
        "is_last": attempt.session_item.position >= session.planned_items if attempt.session_item else True,
        **metacog_selectors.feedback_extras(session=session, attempt=attempt),
    }


def _session_ended(request: AuthedRequest, session: PracticeSession) -> HttpResponse:
    """An answer sent to a session that was ended (its unanswered item is gone): say so, offer a new one."""
    if not request.htmx:
        return render(request, "tutor/session_ended.html", {"session": session}, status=409)
    response = render(request, "tutor/_session_ended.html", {"session": session}, status=409)
    response["HX-Retarget"], response["HX-Reswap"] = "#item-area", "outerHTML"  # the whole card, whoever asked
    return response


def _response_time_ms(sent: str) -> int | None:
    """The browser's timing when it is a plain count of milliseconds (ASCII digits, at most 9 of them: over a
    day), else None and the service times the item itself. ``"²".isdigit()`` is true and ``int("²")`` fails."""
    return int(sent) if sent.isascii() and sent.isdigit() and len(sent) <= 9 else None


@login_required
@require_POST
def practice_answer(request: AuthedRequest, session_id: int, position: int) -> HttpResponse:
    session = _own_session(request, session_id)
    session_item = (
        SessionItem.objects.select_related("item", "session").filter(session=session, position=position).first()
    )
    if session_item is None:
        if not session.is_open:
            return _session_ended(request, session)
        raise Http404("No such item in this session")
    try:
        try:
            metacog_services.check_step_validate(session=session, checked=request.POST.get("checked"))
        except metacog_services.MetacogError as exc:
            raise services.PracticeError(exc.message, field=exc.field) from None
        outcome = services.attempt_record(
            student=request.user,
            session_item=session_item,
            answer=request.POST.get("answer", ""),
            confidence=request.POST.get("confidence"),
            idempotency_key=request.POST.get("idempotency_key", ""),
            response_time_ms=_response_time_ms(request.POST.get("response_time_ms", "")),
        )
    except services.PracticeError as exc:
        if exc.field == "session" and not session.is_open:
            return _session_ended(request, session)
        ctx = _item_context(
            session,
            session_item,
            error=exc.message,
            error_field=exc.field,
            answer_value=request.POST.get("answer", ""),
            confidence_value=request.POST.get("confidence", ""),
        )
        # Keep the key: the same answer re-sent after a fix must still count once.
        ctx["idempotency_key"] = request.POST.get("idempotency_key") or ctx["idempotency_key"]
        template = "tutor/_item.html" if request.htmx else "tutor/practice.html"
        return render(request, template, ctx, status=422)
    template = "tutor/_feedback.html" if request.htmx else "tutor/practice_feedback.html"
    return render(request, template, _feedback_context(session, outcome.attempt, not_recorded=outcome.not_recorded))


@login_required
@require_POST
def practice_hint(request: AuthedRequest, session_id: int, position: int) -> HttpResponse:
    session = _own_session(request, session_id)
    session_item = SessionItem.objects.select_related("item").filter(session=session, position=position).first()
    if session_item is None:
        if not session.is_open:
            return _session_ended(request, session)
        raise Http404("No such item in this session")
    hints = services.hint_reveal(session_item=session_item)
    ctx = {
        "session": session,
        "si": session_item,
        "hints": hints,
        "more_hints": len(hints) < len(session_item.item.hints),
    }
    if request.htmx:
        return render(request, "tutor/_hints.html", ctx)
    return redirect("practice", session_id=session.pk)


@login_required
@require_POST
def practice_end(request: AuthedRequest, session_id: int) -> HttpResponse:
    session = _own_session(request, session_id)
    services.session_end(session=session)
    metacog_services.session_ended(session=session)
    # Scores go to the LMS gradebook of each LTI placement of this class (sent by a Celery task after commit).
    lti_services.score_queue_for_session(session=session)
    return redirect("practice_summary", session_id=session.pk)


@login_required
@require_GET
def practice_summary(request: AuthedRequest, session_id: int) -> HttpResponse:
    session = get_object_or_404(PracticeSession.objects.select_related("section", "student"), pk=session_id)
    if not access.sessions_visible_to(request.user).filter(pk=session.pk).exists():
        raise Http404("No such session")
    summary = selectors.session_summary(session=session)
    extras = metacog_selectors.summary_extras(session=session, viewer=request.user)
    return render(request, "tutor/summary.html", {"session": session, "summary": summary, **extras})


@login_required
@require_GET
def my_progress(request: AuthedRequest) -> HttpResponse:
    """The signed-in student's own progress. No student id in the URL: nobody can ask for someone else's.
    Staff have no progress of their own and go to their home page (they see students through their classes)."""
    if not request.user.is_student:
        return redirect("home")
    progress = selectors.progress_for_student(student=request.user, page=request.GET.get("page"))
    return render(request, "tutor/progress.html", {"progress": progress})


# --- teachers -----------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def class_schedule(request: AuthedRequest, section_id: int) -> HttpResponse:
    section = get_object_or_404(access.sections_managed_by(request.user), pk=section_id)
    error = field = None
    status = 200
    if request.method == "POST":
        try:
            services.section_schedule_update(
                section=section,
                target_success=request.POST.get("target_success"),
                review_weight=request.POST.get("review_weight"),
                session_length=request.POST.get("session_length"),
                skill_ids=request.POST.getlist("skills_in_play"),
                scheduling_rule=request.POST.get("scheduling_rule"),
            )
        except services.PracticeError as exc:
            error, field, status = exc.message, exc.field, 422
        else:
            messages.success(request, f"Saved: how {section.name} practises.")
            return redirect("class_schedule", section_id=section.pk)
    if request.method == "POST":  # show what the teacher ticked, not what is stored, next to the error
        in_play = {
            int(s) for s in request.POST.getlist("skills_in_play") if s.isascii() and s.isdigit() and len(s) < 19
        }
    else:
        in_play = set(section.skills_in_play.values_list("pk", flat=True))
    skills = [(s, s.pk in in_play) for s in section.course.skills.order_by("position", "slug")]
    chosen = request.POST.get("scheduling_rule", section.scheduling_rule) if request.method == "POST" else None
    rules = [(value, label, value == (chosen or section.scheduling_rule)) for value, label in SchedulingRule.choices]
    ctx = {
        "section": section,
        "skills": skills,
        "rules": rules,
        "confused": selectors.confused_pairs_for_course(course=section.course),
        "error": error,
        "error_field": field,
        "form": request.POST or None,
    }
    return render(request, "tutor/class_schedule.html", ctx, status=status)


@login_required
@require_GET
def student_attempts(request: AuthedRequest, student_id: int) -> HttpResponse:
    if request.user.is_student:
        raise Http404("No such student")
    student = get_object_or_404(access.students_visible_to(request.user), pk=student_id)
    attempts = selectors.attempts_for_student(student=student, viewer=request.user)
    return render(request, "tutor/student_attempts.html", {"student": student, "attempts": attempts})
