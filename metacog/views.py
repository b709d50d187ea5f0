"""Metacognition pages and the small forms inside the practice flow. Access goes through ``tutor.access``."""

from __future__ import annotations

from dataclasses import replace

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tutor import access
from tutor.http import AuthedRequest
from tutor.models import PracticeSession, Section, SessionItem, User

from . import catalog, selectors, services
from .calibration import YOU
from .models import PromptKind, Reflection, StrategySuggestion


def _own_session(request: AuthedRequest, session_id: int) -> PracticeSession:
    session = get_object_or_404(PracticeSession.objects.select_related("section", "student"), pk=session_id)
    if not access.can_act_in_session(request.user, session):
        raise Http404("No such session")  # another student's session does not exist for you
    return session


def _invalid(request: AuthedRequest, template: str, ctx: dict, exc: services.MetacogError) -> HttpResponse:
    ctx = {**ctx, "error": exc.message, "error_field": exc.field}
    if request.htmx:
        return render(request, template, ctx, status=422)
    return render(request, "metacog/message.html", {**ctx, "title": "Please check your answer"}, status=422)


def _staff_section(request: AuthedRequest, section_id: int) -> Section:
    return get_object_or_404(access.sections_managed_by(request.user), pk=section_id)


# --- inside the practice flow (the student alone) -----------------------------------------------------------


@login_required
@require_POST
def plan(request: AuthedRequest, session_id: int) -> HttpResponse:
    session = _own_session(request, session_id)
    ctx = {"session": session, "mc_catalog": catalog.CATALOG}
    try:
        reflection = services.reflection_plan_record(
            student=request.user,
            session=session,
            goal=request.POST.get("goal", ""),
            strategy=request.POST.get("strategy", ""),
            skipped=request.POST.get("skip") is not None,
        )
    except services.MetacogError as exc:
        return _invalid(request, "metacog/_plan.html", {**ctx, "goal_value": request.POST.get("goal", "")}, exc)
    if request.htmx:
        return render(request, "metacog/_plan.html", {**ctx, "plan": reflection})
    return redirect("practice", session_id=session.pk)


@login_required
@require_POST
def item_reflect(request: AuthedRequest, session_id: int, position: int) -> HttpResponse:
    session = _own_session(request, session_id)
    si = get_object_or_404(
        SessionItem.objects.select_related("item__skill", "session"), session=session, position=position
    )
    kind = request.POST.get("kind", "")
    templates: dict[str, str] = {
        Reflection.Kind.JUDGMENT: "metacog/_judgment.html",
        Reflection.Kind.CONFIDENT_ERROR: "metacog/_confident_error.html",
        Reflection.Kind.STRATEGY_NOTE: "metacog/_note.html",
    }
    template = templates.get(kind, "metacog/_saved.html")
    ctx = {"session": session, "si": si, "item": si.item, **selectors.judgment_form(session_item=si)}
    try:
        reflection = services.reflection_item_record(
            student=request.user,
            session_item=si,
            kind=kind,
            answer=request.POST.get("answer", ""),
            judgment=request.POST.get("judgment"),
        )
    except services.MetacogError as exc:
        return _invalid(request, template, ctx, exc)
    if request.htmx:
        return render(request, "metacog/_saved.html", {"reflection": reflection})
    return redirect("practice", session_id=session.pk)


@login_required
@require_POST
def session_reflect(request: AuthedRequest, session_id: int) -> HttpResponse:
    session = _own_session(request, session_id)
    kind = request.POST.get("kind", "")
    template = "metacog/_summary_note.html" if kind == Reflection.Kind.SUMMARY else "metacog/_evaluation.html"
    try:
        reflection = services.reflection_session_record(
            student=request.user,
            session=session,
            kind=kind,
            answer=request.POST.get("answer", ""),
            second_answer=request.POST.get("second_answer", ""),
        )
    except services.MetacogError as exc:
        return _invalid(request, template, {"session": session}, exc)
    if request.htmx:
        return render(request, "metacog/_saved.html", {"reflection": reflection})
    return redirect("practice_summary", session_id=session.pk)


@login_required
@require_POST
def suggestion_respond(request: AuthedRequest, suggestion_id: int) -> HttpResponse:
    suggestion = get_object_or_404(StrategySuggestion.objects.select_related("section"), pk=suggestion_id)
    if suggestion.student_id != request.user.pk:
        raise Http404("No such suggestion")  # teachers see suggestions; only the student answers them
    ctx = {"mc_suggestion": suggestion, "mc_own": True, "mc_voice": YOU}
    try:
        suggestion = services.suggestion_respond(
            suggestion=suggestion, student=request.user, response=request.POST.get("response", "")
        )
    except services.MetacogError as exc:
        return _invalid(request, "metacog/_suggestion.html", ctx, exc)
    if request.htmx:
        return render(request, "metacog/_suggestion.html", {**ctx, "mc_suggestion": suggestion})
    if suggestion.session_id:
        return redirect("practice_summary", session_id=suggestion.session_id)
    return redirect("metacog:me")


# --- history pages ------------------------------------------------------------------------------------------


def _history(request: AuthedRequest, student: User) -> HttpResponse:
    voice = selectors.voice_for(student=student, viewer=request.user)
    return render(
        request,
        "metacog/history.html",
        {
            "student": student,
            "own": voice.own,
            "voice": voice,
            # a teacher sees what the student did in the teacher's own classes only
            "calibration": selectors.calibration_for_student(student=student, viewer=request.user, voice=voice),
            "reflections": selectors.reflections_for_student(student=student, viewer=request.user),
            "suggestions": selectors.suggestions_for_student(student=student, viewer=request.user),
            "reviews": selectors.reviews_for_student(student=student, viewer=request.user),
        },
    )


@login_required
@require_GET
def me(request: AuthedRequest) -> HttpResponse:
    if not request.user.is_student:
        return redirect("home")
    return _history(request, request.user)


@login_required
@require_GET
def student_history(request: AuthedRequest, student_id: int) -> HttpResponse:
    student = get_object_or_404(access.students_visible_to(request.user), pk=student_id)
    return _history(request, student)


@login_required
@require_GET
def strategy_catalog(request: AuthedRequest) -> HttpResponse:
    return render(request, "metacog/catalog.html", {"strategies": catalog.CATALOG})


# --- teachers -----------------------------------------------------------------------------------------------


@login_required
@require_GET
def class_overview(request: AuthedRequest, section_id: int) -> HttpResponse:
    section = _staff_section(request, section_id)
    students = list(access.students_visible_to(request.user).filter(enrollments__section=section).order_by("username"))
    return render(
        request,
        "metacog/class_overview.html",
        {
            "section": section,
            "students": students,
            "reflections": Reflection.objects.filter(section=section)
            .exclude(skipped=True)
            .select_related("student", "skill")[:50],
            "suggestions": StrategySuggestion.objects.filter(section=section).select_related("student")[:50],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def class_settings(request: AuthedRequest, section_id: int) -> HttpResponse:
    section = _staff_section(request, section_id)
    rules = list(selectors.prompt_rules_for_section(section=section).values())
    strategies = selectors.strategies_for_section(section=section)
    error = field = every_value = None
    status = 200
    if request.method == "POST":
        form = request.POST.get("form")
        try:
            if form == "prompts":
                services.prompt_rules_update(
                    section=section,
                    enabled_kinds=[k for k in PromptKind.values if request.POST.get(f"prompt_{k}") is not None],
                    every_n_items=request.POST.get("every_judgment"),
                )
            elif form == "strategies":
                services.strategy_settings_update(
                    section=section,
                    enabled_slugs=[
                        s.slug for s in catalog.CATALOG if request.POST.get(f"strategy_{s.slug}") is not None
                    ],
                )
            else:
                raise services.MetacogError("Unknown form.", field="form")
        except services.MetacogError as exc:
            error, field, status = exc.message, exc.field, 422
            # Nothing was saved: show what the teacher posted, so fixing one field does not undo the others.
            if form == "prompts":
                rules = [replace(r, enabled=request.POST.get(f"prompt_{r.kind}") is not None) for r in rules]
                every_value = request.POST.get("every_judgment", "")
            elif form == "strategies":
                strategies = [(s, request.POST.get(f"strategy_{s.slug}") is not None) for s, _ in strategies]
        else:
            messages.success(request, "Settings saved.")
            return redirect("metacog:class_settings", section_id=section.pk)
    return render(
        request,
        "metacog/class_settings.html",
        {
            "section": section,
            "rules": rules,
            "strategies": strategies,
            "every_label": services.EVERY_N_LABEL,
            "every_min": services.EVERY_N_MIN,
            "every_max": services.EVERY_N_MAX,
            "every_value": every_value,
            "error": error,
            "error_field": field,
        },
        status=status,
    )
