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
# a cell's weight class by its number of answers (``Cell.weight``), looked up rather than computed per cell
_WEIGHTS = ("w0", "w1", "w1", "w1", "w1", "w2", "w2", "w2", "w2", "w2", "w3")


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
    """One <tr> per student: P(correct) per skill as "72 %" with the answers it rests on below it.

    The cell's colour step and weight are ``Cell.p_step`` and ``Cell.weight`` written inline: 20,000 cells
    make the property calls cost more than the formatting."""
    out = []
    for row, name in zip(overview.rows, _name_cells(overview, section), strict=True):
        parts = [f"<tr>{name}"]
        append = parts.append
        for c in row.cells:
            p = c.p
            if p is None:
                append("<td></td>")
                continue
            step = int(p * 5)
            n = c.n
            append(
                f'<td class="h{step if step < 4 else 4} {_WEIGHTS[n if n < 10 else 10]}">{round(p * 100)} %'
                f"<small>{n}</small></td>"
            )
        append("</tr>")
        out.append("".join(parts))
    return mark_safe("\n".join(out))  # noqa: S308 - names escaped above, the rest are numbers


@register.simple_tag
def sure_wrong_rows(overview: ClassOverview, section: Section | None = None) -> SafeString:
    """One <tr> per student: wrong / sure answers per skill, empty where the student was never sure
    (the colour step is ``Cell.sure_wrong_step`` inline)."""
    out = []
    for row, name in zip(overview.rows, _name_cells(overview, section), strict=True):
        parts = [f"<tr>{name}"]
        append = parts.append
        for c in row.cells:
            sure = c.n_sure
            if not sure:
                append("<td></td>")
                continue
            wrong = c.n_sure_wrong
            step = int(wrong / sure * 5)
            append(f'<td class="c{step if step < 4 else 4}">{wrong}/{sure}</td>')
        append("</tr>")
        out.append("".join(parts))
    return mark_safe("\n".join(out))  # noqa: S308 - names escaped above, the rest are numbers
