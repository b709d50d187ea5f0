"""Filters for the teacher's student, items and model pages."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def abs_points(value: float | None) -> int | None:
    """A signed share (0.07, -0.12) as whole percentage points without the sign (7, 12); the page says which way."""
    return None if value is None else round(abs(value) * 100)
