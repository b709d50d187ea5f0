"""Teacher dashboards: pages that read a whole class. Views stay thin; the reads are in ``dashboard_selectors``."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from . import (
    access,
    analytics_selectors,
    class_views,
    dashboard_selectors,
    model_trust_selectors,
    student_dashboard_selectors,
)
from .http import AuthedRequest
from .models import Section, User


@login_required
@require_GET
def class_overview(request: AuthedRequest, section_id: int) -> HttpResponse:
    """Who needs help and why, mastery by skill, activity: for the class's teachers and its organisation's admins."""
    section = get_object_or_404(access.sections_managed_by(request.user), pk=section_id)  # others: 404
    form, filters = class_views.overview_filters(request, section)  # skill and date range, from the query string
    if filters is None:
        return class_views.filter_error(request, section, form)
    students = (
        access.students_visible_to(request.user).filter(enrollments__section=section).order_by("last_name", "username")
    )
    overview = dashboard_selectors.class_overview_for_section(section=section, students=students, **filters.kwargs())
    ctx = {"section": section, "overview": overview, "filter_form": form, "query": request.GET.urlencode()}
    return render(request, "tutor/class_overview.html", ctx)


def _class_and_students(request: AuthedRequest, section_id: int) -> tuple[Section, QuerySet[User]]:
    """The class if the viewer manages it (else 404), and its students the viewer may see."""
    section = get_object_or_404(access.sections_managed_by(request.user), pk=section_id)
    students = (
        access.students_visible_to(request.user).filter(enrollments__section=section).order_by("last_name", "username")
    )
    return section, students


@login_required
@require_GET
def class_student(request: AuthedRequest, section_id: int, student_id: int) -> HttpResponse:
    """One student in one class: learning curves, calibration over time, answers, reflections, strategies."""
    section, students = _class_and_students(request, section_id)
    student = get_object_or_404(students, pk=student_id)  # not in this class, or not theirs to see: 404
    page = student_dashboard_selectors.student_page_for_section(
        section=section,
        student=student,
        viewer=request.user,
        students=students.filter(pk=student.pk),
        classmates=students,
    )
    return render(request, "tutor/class_student.html", {"section": section, "page": page})


@login_required
@require_GET
def class_items(request: AuthedRequest, section_id: int) -> HttpResponse:
    """Item and skill analytics: difficulty, discrimination, common wrong answers, hints, time on task."""
    section, students = _class_and_students(request, section_id)
    analytics = analytics_selectors.item_analytics_for_section(section=section, students=students)
    return render(request, "tutor/class_items.html", {"section": section, "analytics": analytics})


@login_required
@require_GET
def class_model(request: AuthedRequest, section_id: int) -> HttpResponse:
    """Can I trust the model? Its predictions against what the class then did, and what it has seen of whom."""
    section, students = _class_and_students(request, section_id)
    trust = model_trust_selectors.model_trust_for_section(section=section, students=students)
    return render(request, "tutor/class_model.html", {"section": section, "trust": trust})
