"""Teacher dashboards: pages that read a whole class. Views stay thin; the reads are in ``dashboard_selectors``."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from . import access, class_views, dashboard_selectors
from .http import AuthedRequest


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
