"""How numbers read on every page: one wording for a probability or a share ("75 %")."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def percent(value: object) -> str:
    """0.75 -> "75 %" (the French-style space the confidence scale has always used); "" for no value."""
    if value is None or value == "":
        return ""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    if number != number:  # NaN
        return ""
    return f"{round(number * 100):d} %"
