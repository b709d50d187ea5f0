"""The class overview's heatmaps, built as strings.

A class of 200 students and 100 skills has two tables of 20,000 cells each; the template engine
spends about 0.1 ms per cell on them (seconds per page), a Python loop microseconds. Only the
student names are text from users, and they are escaped; every other value is a number.
"""

from __future__ import annotations

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from tutor.dashboard_selectors import ClassOverview

register = template.Library()


@register.simple_tag
def mastery_rows(overview: ClassOverview) -> SafeString:
    """One <tr> per student: P(correct) per skill as "72 %" with the answers it rests on below it."""
    out = []
    for row in overview.rows:
        cells = "".join(
            "<td></td>"
            if c.p is None
            else f'<td class="h{c.p_step} {c.weight}">{round(c.p * 100):d} %<small>{c.n}</small></td>'
            for c in row.cells
        )
        out.append(f'<tr><th scope="row">{escape(row.name)}</th>{cells}</tr>')
    return mark_safe("\n".join(out))  # noqa: S308 - names escaped above, the rest are numbers


@register.simple_tag
def sure_wrong_rows(overview: ClassOverview) -> SafeString:
    """One <tr> per student: wrong / sure answers per skill, empty where the student was never sure."""
    out = []
    for row in overview.rows:
        cells = "".join(
            f'<td class="c{c.sure_wrong_step}">{c.n_sure_wrong}/{c.n_sure}</td>' if c.n_sure else "<td></td>"
            for c in row.cells
        )
        out.append(f'<tr><th scope="row">{escape(row.name)}</th>{cells}</tr>')
    return mark_safe("\n".join(out))  # noqa: S308 - names escaped above, the rest are numbers
