"""The class overview's heatmaps, built as strings.

A class of 200 students and 100 skills has two tables of 20,000 cells each; the template engine
spends about 0.1 ms per cell on them (seconds per page), a Python loop microseconds. Only the
student names are text from users, and they are escaped; every other value is a number.
"""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from tutor.dashboard_selectors import ClassOverview
from tutor.models import Section

register = template.Library()


_ANY_ID = 987654321  # reverse() once per table, not once per student (400 rows on a big class)


def _name_cells(overview: ClassOverview, section: Section | None) -> list[str]:
    """Row headers: each student's name, linked to their page in this class when the class is given."""
    if section is None:
        return [f'<th scope="row">{escape(row.name)}</th>' for row in overview.rows]
    url = reverse("class_student", args=[section.pk, _ANY_ID])
    return [
        f'<th scope="row"><a href="{url.replace(str(_ANY_ID), str(row.student.pk))}">{escape(row.name)}</a></th>'
        for row in overview.rows
    ]


@register.simple_tag
def mastery_rows(overview: ClassOverview, section: Section | None = None) -> SafeString:
    """One <tr> per student: P(correct) per skill as "72 %" with the answers it rests on below it."""
    out = []
    for row, name in zip(overview.rows, _name_cells(overview, section), strict=True):
        cells = "".join(
            "<td></td>"
            if c.p is None
            else f'<td class="h{c.p_step} {c.weight}">{round(c.p * 100):d} %<small>{c.n}</small></td>'
            for c in row.cells
        )
        out.append(f"<tr>{name}{cells}</tr>")
    return mark_safe("\n".join(out))  # noqa: S308 - names escaped above, the rest are numbers


@register.simple_tag
def sure_wrong_rows(overview: ClassOverview, section: Section | None = None) -> SafeString:
    """One <tr> per student: wrong / sure answers per skill, empty where the student was never sure."""
    out = []
    for row, name in zip(overview.rows, _name_cells(overview, section), strict=True):
        cells = "".join(
            f'<td class="c{c.sure_wrong_step}">{c.n_sure_wrong}/{c.n_sure}</td>' if c.n_sure else "<td></td>"
            for c in row.cells
        )
        out.append(f"<tr>{name}{cells}</tr>")
    return mark_safe("\n".join(out))  # noqa: S308 - names escaped above, the rest are numbers
