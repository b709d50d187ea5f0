"""The model registry page: runs with live progress, versions with their held-out metrics."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from tutor.access import can_view_model_registry
from tutor.http import AuthedRequest

from .selectors import registry_overview

BUCKETS = ["1-5", "6-10", "11-20", "21-50", "51+", "all"]


@login_required
@require_GET
def registry(request: AuthedRequest) -> HttpResponse:
    if not can_view_model_registry(request.user):
        raise Http404("No such page")
    template = "learner_models/_registry.html" if request.htmx else "learner_models/registry.html"
    return render(request, template, {**registry_overview(), "buckets": BUCKETS})
