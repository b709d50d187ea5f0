"""Pages for managing a class (create, roster, passwords, moves, archive), the overview's CSV export, and the
live view of a class practising. Thin: parse with a form, check access through ``tutor.access``, call one
service or selector, render. Every change is a POST (CSRF-checked by Django) and is confirmed on the page.
"""

from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import access, class_selectors, class_services, dashboard_selectors
from .class_forms import MoveForm, OverviewFilterForm, OverviewFilters, RosterForm, SectionCreateForm, StudentAddForm
from .http import AuthedRequest
from .models import Section, User


def _managed(request: AuthedRequest, section_id: int) -> Section:
    """The class, if the viewer manages it (its teachers, its organisation's admins, operators); else 404."""
    return get_object_or_404(access.sections_managed_by(request.user), pk=section_id)


def _student_in(request: AuthedRequest, section: Section, student_id: int) -> User:
    return get_object_or_404(
        access.students_visible_to(request.user).filter(enrollments__section=section), pk=student_id
    )


# --- the class overview's filters and export ----------------------------------------------------


def _students(request: AuthedRequest, section: Section) -> QuerySet[User]:
    return (
        access.students_visible_to(request.user).filter(enrollments__section=section).order_by("last_name", "username")
    )


def overview_filters(request: AuthedRequest, section: Section) -> tuple[OverviewFilterForm, OverviewFilters | None]:
    """The overview's filters from the query string; None (and the form's errors) when they are bad."""
    form = OverviewFilterForm(request.GET or None, section=section)
    if not request.GET:
        return form, OverviewFilters()
    return (form, form.filters()) if form.is_valid() else (form, None)


def filter_error(request: AuthedRequest, section: Section, form: OverviewFilterForm) -> HttpResponse:
    return render(request, "tutor/manage/filter_error.html", {"section": section, "filter_form": form}, status=400)


@login_required
@require_GET
def class_export(request: AuthedRequest, section_id: int) -> HttpResponse:
    """The class overview as CSV, under the same filters as the page (same query string)."""
    section = _managed(request, section_id)
    form, filters = overview_filters(request, section)
    if filters is None:
        return filter_error(request, section, form)
    overview = dashboard_selectors.class_overview_for_section(
        section=section, students=_students(request, section), **filters.kwargs()
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    day = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="class-{section.pk}-overview-{day}.csv"'
    response["Cache-Control"] = "no-store"
    response.write("\ufeff")  # spreadsheets read the file as UTF-8 only with this mark
    writer = csv.writer(response)
    writer.writerows(class_selectors.overview_csv_rows(overview=overview))
    return response


# --- managing the class -----------------------------------------------------------------------


def _manage_page(
    request: AuthedRequest,
    section: Section,
    *,
    add_form: StudentAddForm | None = None,
    roster_form: RosterForm | None = None,
    error: str | None = None,
    status: int = 200,
) -> HttpResponse:
    ctx = {
        "section": section,
        "roster": class_selectors.roster_for_section(viewer=request.user, section=section),
        "targets": class_selectors.move_targets(viewer=request.user, section=section),
        "add_form": add_form or StudentAddForm(),
        "roster_form": roster_form or RosterForm(),
        "error": error,
        "columns": class_services.ROSTER_COLUMNS,
    }
    return render(request, "tutor/manage/manage.html", ctx, status=status)


def _passwords_page(request: AuthedRequest, section: Section, added: list[class_services.StudentAdded]) -> HttpResponse:
    """New passwords are shown once, on this response (never stored in a message or the session)."""
    response = render(request, "tutor/manage/passwords.html", {"section": section, "added": added})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def class_create(request: AuthedRequest) -> HttpResponse:
    user = request.user
    if not (user.is_superuser or user.role in (User.Role.TEACHER, User.Role.ADMIN)):
        raise PermissionDenied("Only teachers and admins create classes.")
    if user.organisation_id is None and not user.is_superuser:
        raise PermissionDenied("Your account belongs to no school, so it cannot hold classes.")
    form = SectionCreateForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        organisation = form.cleaned_data.get("organisation") or user.organisation
        assert organisation is not None  # checked above: staff without a school are refused, operators choose one
        try:
            section = class_services.section_create(
                organisation=organisation,
                name=form.cleaned_data["name"],
                course=form.cleaned_data["course"],
                teacher=user if user.is_teacher else None,
            )
        except class_services.ClassError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Created the class {section.name}. Add its students below.")
            return redirect("class_manage", section_id=section.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, "tutor/manage/create.html", {"form": form}, status=status)


@login_required
@require_GET
def class_manage(request: AuthedRequest, section_id: int) -> HttpResponse:
    return _manage_page(request, _managed(request, section_id))


@login_required
@require_POST
@never_cache
def student_add(request: AuthedRequest, section_id: int) -> HttpResponse:
    section = _managed(request, section_id)
    form = StudentAddForm(request.POST)
    if form.is_valid():
        try:
            added = class_services.student_add(section=section, **form.cleaned_data)
        except class_services.ClassError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            name = added.student.get_full_name() or added.student.username
            if added.already_enrolled:
                messages.info(
                    request, f"{name} ({added.student.username}) is already in {section.name}: nothing changed."
                )
            elif added.created:
                messages.success(request, f"Added {name} to {section.name} with a new account.")
                return _passwords_page(request, section, [added])
            else:
                messages.success(
                    request,
                    f"{added.student.username} already had an account at {section.organisation.name}: "
                    f"enrolled it in {section.name} (its password is unchanged).",
                )
            return redirect("class_manage", section_id=section.pk)
    return _manage_page(request, section, add_form=form, status=422)


@login_required
@require_POST
@never_cache
def roster_upload(request: AuthedRequest, section_id: int) -> HttpResponse:
    section = _managed(request, section_id)
    form = RosterForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            added = class_services.roster_import(section=section, data=form.cleaned_data["roster"])
        except class_services.ClassError as exc:
            form.add_error("roster", f"Nothing was saved. {exc.message}")
        else:
            new = sum(1 for a in added if a.created)
            existing = sum(1 for a in added if not a.created and not a.already_enrolled)
            already = sum(1 for a in added if a.already_enrolled)
            messages.success(
                request,
                f"Roster saved for {section.name}: {new} new accounts, {existing} existing accounts enrolled, "
                f"{already} already in the class.",
            )
            if new:
                return _passwords_page(request, section, added)
            return redirect("class_manage", section_id=section.pk)
    return _manage_page(request, section, roster_form=form, status=422)


@login_required
@require_POST
@never_cache
def student_password_reset(request: AuthedRequest, section_id: int, student_id: int) -> HttpResponse:
    section = _managed(request, section_id)
    student = _student_in(request, section, student_id)
    password = class_services.student_password_reset(section=section, student=student)
    messages.success(request, f"New temporary password for {student.get_full_name() or student.username}.")
    added = class_services.StudentAdded(student, created=False, already_enrolled=True, password=password)
    return _passwords_page(request, section, [added])


@login_required
@require_POST
def student_move(request: AuthedRequest, section_id: int, student_id: int) -> HttpResponse:
    section = _managed(request, section_id)
    student = _student_in(request, section, student_id)
    form = MoveForm(request.POST, targets=class_selectors.move_targets(viewer=request.user, section=section))
    if not form.is_valid():
        return _manage_page(
            request, section, error=f"Move: {' '.join(str(e) for e in form.errors['target'])}", status=422
        )
    target = form.cleaned_data["target"]
    try:
        class_services.student_move(student=student, source=section, target=target)
    except class_services.ClassError as exc:
        return _manage_page(request, section, error=f"Move: {exc.message}", status=422)
    messages.success(
        request, f"Moved {student.get_full_name() or student.username} from {section.name} to {target.name}."
    )
    return redirect("class_manage", section_id=section.pk)


@login_required
@require_POST
def class_archive(request: AuthedRequest, section_id: int) -> HttpResponse:
    section = class_services.section_archive(section=_managed(request, section_id))
    messages.success(request, f"Archived {section.name}: it is off your home page; its students and answers are kept.")
    return redirect("class_manage", section_id=section.pk)


@login_required
@require_POST
def class_unarchive(request: AuthedRequest, section_id: int) -> HttpResponse:
    section = class_services.section_unarchive(section=_managed(request, section_id))
    messages.success(request, f"{section.name} is back on your home page.")
    return redirect("class_manage", section_id=section.pk)


# --- live view --------------------------------------------------------------------------------


@login_required
@require_GET
@never_cache
def class_live(request: AuthedRequest, section_id: int) -> HttpResponse:
    """Who is practising now; htmx polls this page and swaps in the fresh feed (the partial)."""
    section = _managed(request, section_id)
    live = class_selectors.live_class(viewer=request.user, section=section)
    template = "tutor/manage/_live_feed.html" if request.htmx else "tutor/manage/live.html"
    return render(request, template, {"section": section, "live": live})


@login_required
@require_GET
@never_cache
def class_session(request: AuthedRequest, section_id: int, session_id: int) -> HttpResponse:
    """One student's session in this class as it goes, read-only: a teacher watches, never answers."""
    section = _managed(request, section_id)
    session = get_object_or_404(
        class_selectors.sessions_in_class(viewer=request.user, section=section).select_related("student"),
        pk=session_id,
    )
    watched = class_selectors.session_in_class(session=session)
    template = "tutor/manage/_session_steps.html" if request.htmx else "tutor/manage/session.html"
    return render(request, template, {"section": section, "watched": watched})
