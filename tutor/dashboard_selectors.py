"""Reads behind the teacher's class overview: who needs help and why, mastery by skill, activity.

Everything comes from the class's own answers (``Attempt.session.section``), in a fixed number of
queries whatever the size of the class: per (student, skill) totals and per-student sums, both read from
the tallies the database keeps as answers arrive (``SkillTally``, no scan of the answers), each student's
most recent answers (one LATERAL query on PostgreSQL) and answers per day (``DayTally``).
P(correct) per skill is the learner model's when one is active and the student has a stored state
(read as stored: a page view adapts nobody), else the scheduler's estimate from the answers
(``policies.SkillEstimator``: per-skill totals, then the last ``RECENT`` answers replayed; a skill none of
them is on is its tally's closed form, computed in SQL). docs/decisions/0005-skill-tallies.md has the why.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, F, FloatField, Func, Max, Min, Q, QuerySet, Sum, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import RowNumber
from django.utils import timezone

from learner_models import loader
from learner_models.models import StudentModelState
from learner_models.selectors import active_model_version
from metacog.calibration import CalibrationJudgment, Verdict, calibration_judgment_from_totals, wilson_interval

from . import policies
from .models import Attempt, DayTally, Section, Skill, SkillTally, User

logger = logging.getLogger(__name__)

RECENT = 30  # most recent answers per student read one by one (flags, and the estimate's replay)
SURE = SkillTally.SURE  # "Fairly sure" or "Certain" on the confidence scale
# Flags ask for clear evidence, judged against the rest of the class, so that a class of ordinary students
# flags nobody: a few wrong answers in a row happen to everyone.
INACTIVE_DAYS = 7  # ... and most of the rest of the class answered in that time
STUCK_LOOKBACK = 8  # a student's last answers on one skill (within the recent ones) ...
STUCK_MIN_ANSWERS = 5  # ... at least this many, and their 95 % interval below the rest of the class's share right
STRUGGLING_MIN_ANSWERS = 20  # recent answers whose 95 % interval lies below the rest of the class's share right
REFERENCE_MIN_ANSWERS = 20  # the rest of the class's share right counts from this many answers; else 50 %
OVERCONFIDENT_MIN_ANSWERS = 20
OVERCONFIDENT_GAP = 0.15  # confidence at least 15 points above accuracy, and its interval above the class's gap
DECLINE_RECENT = 10  # the last answers compared with all earlier ones
DECLINE_DROP = 0.2  # accuracy at least 20 points lower, and the recent interval below the earlier accuracy
ACTIVITY_DAYS = 14
PRIOR = -0.5  # the scheduler's estimate's prior logit (``policies.SkillEstimator``'s default)
DAY_S = 86400.0


@dataclass(slots=True)  # not frozen: 20,000 of them per page, and a frozen init costs twice as much
class Cell:
    """One student on one skill: P(correct) now, and what it rests on."""

    p: float | None  # None: no estimate (never answered and no model)
    n: int  # answers on this skill in this class
    n_correct: int
    n_sure: int  # answers rated "Fairly sure" or "Certain"
    n_sure_wrong: int
    from_model: bool

    @property
    def p_step(self) -> int:
        """0-4: the colour step of the mastery heatmap."""
        return 0 if self.p is None else min(4, int(self.p * 5))

    @property
    def weight(self) -> str:
        """How much the cell rests on, as a CSS class: none, few (1-4), some (5-9), many (10+) answers."""
        return "w0" if self.n == 0 else "w1" if self.n < 5 else "w2" if self.n < 10 else "w3"

    @property
    def sure_wrong_share(self) -> float | None:
        return self.n_sure_wrong / self.n_sure if self.n_sure else None

    @property
    def sure_wrong_step(self) -> int:
        share = self.sure_wrong_share
        return 0 if share is None else min(4, int(share * 5))


@dataclass(frozen=True)
class Flag:
    kind: str  # stuck | struggling | overconfident | declining | inactive
    label: str  # two words for the badge
    reason: str  # one plain sentence, every number saying what it is
    weight: int  # ranks who needs help first


@dataclass
class StudentRow:
    student: User
    name: str
    n_answers: int = 0
    n_correct: int = 0
    last_at: datetime | None = None
    cells: list[Cell] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    calibration: CalibrationJudgment | None = None

    @property
    def accuracy(self) -> float | None:
        return self.n_correct / self.n_answers if self.n_answers else None

    @property
    def priority(self) -> int:
        return sum(f.weight for f in self.flags)


@dataclass(frozen=True)
class ActivityDay:
    day: date
    n: int
    x: float  # bar geometry for the inline SVG, in its own units
    y: float
    height: float


@dataclass(frozen=True)
class ClassOverview:
    section: Section
    skills: list[Skill]
    rows: list[StudentRow]  # by name
    needs_help: list[StudentRow]  # ranked, flagged students only
    activity: list[ActivityDay]
    activity_max: int
    model_version: int | None  # the active learner model's version, when any cell comes from it
    n_from_model: int  # students whose P(correct) comes from the model
    inactive_days: int = INACTIVE_DAYS
    recent: int = RECENT

    @property
    def activity_total(self) -> int:
        return sum(d.n for d in self.activity)


def _days(moment: datetime) -> float:
    return moment.timestamp() / DAY_S


class _EpochDays(Func):
    """A datetime as days since 1970 in SQL: 20,000 floats cost nothing to read, 40,000 datetimes do."""

    output_field = FloatField()
    # date_part, not EXTRACT: on PostgreSQL 14+ EXTRACT returns numeric, whose arithmetic made the tally read
    # twice as slow (20,000 rows); date_part returns double precision
    template = "(date_part('epoch', %(expressions)s) / 86400.0)"

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="(julianday(%(expressions)s) - 2440587.5)", **extra)


def _model_predictions(*, student_ids: list[int], skill_ids: list[int]) -> tuple[int | None, dict[int, list[float]]]:
    """P(correct) per skill from each student's stored state under the active model: two queries."""
    version = active_model_version()
    if version is None or not skill_ids:
        return None, {}
    states = StudentModelState.objects.filter(model_version=version, student_id__in=student_ids).values_list(
        "student_id", "state"
    )
    out: dict[int, list[float]] = {}
    try:
        model = loader.load_model(version)
        for student_id, blob in states:
            out[student_id] = [float(p) for p in model.predict(loader.state_unpacked(blob), list(skill_ids))]
    except Exception:  # a broken checkpoint must not take the teacher's page down: the answers still speak
        logger.exception("learner-model predictions failed for the class overview; using the fallback")
        return None, {}
    return version.pk, out


def _fallback_p_sql(*, now_days: float) -> RawSQL:
    """The scheduler's estimate for a skill from its tally alone, computed in SQL for every (student, skill).

    It is what ``_recent_estimates`` would give a skill none of the student's last ``RECENT`` answers is on:
    theta = logit((k + 1) / (n + 2)) from the tally, decayed back towards the prior (-0.5) with a half-life of
    a third of the time between the first and last answer (at least half a day) since the last answer. Skills
    the recent answers touch are replayed in Python and replace it.
    """
    table = SkillTally._meta.db_table
    if connection.vendor == "postgresql":
        first, last = (f"(date_part('epoch', {table}.{c}) / 86400.0)" for c in ("first_at", "last_at"))
        greatest = "GREATEST"
    else:
        first, last = (f"(julianday({table}.{c}) - 2440587.5)" for c in ("first_at", "last_at"))
        greatest = "MAX"
    prior = PRIOR
    # in floating point (``1.0`` alone is NUMERIC on PostgreSQL, whose LN and EXP are far slower)
    theta = f"LN(CAST({table}.n_correct + 1 AS DOUBLE PRECISION) / ({table}.n - {table}.n_correct + 1))"
    # the exponent stops at -60: PostgreSQL raises an error on underflow (a skill left ~540 days), and 2 ** -60
    # times any theta is below half a unit in the last place of the prior, so the result is the same
    exponent = f"-{greatest}(0.0, %s - {last}) / {greatest}(0.5, ({last} - {first}) / 3.0)"
    recall = f"POWER(2.0, {greatest}(-60.0, {exponent}))"
    return RawSQL(
        f"1.0 / (1.0 + EXP(-({prior} + ({theta} - ({prior})) * {recall})))", [now_days], output_field=FloatField()
    )


def _recent_estimates(
    *, totals: dict[int, tuple], recent: list[tuple], n_all: int, k_all: int, now_days: float
) -> dict[int, float]:
    """P(correct) now on the skills of the student's recent answers: the scheduler's estimate from the answers.

    Per-skill totals of the older answers, then the recent ones replayed (``recent`` newest first, as read),
    as ``tutor.scheduler`` does for a student's history. Only the skills the recent answers are on need the
    replay; every other answered skill is its tally's own estimate (``_fallback_p_sql``), as it would be here:
    while the totals are read the estimator's global ability is still its prior, so such a skill starts from it,
    and no replayed answer touches it. The global ability the replay starts from sums all the older answers:
    the student's totals less the recent answers."""
    skills = {r[1] for r in recent}
    estimator = policies.SkillEstimator(skills, prior=PRIOR)
    if recent and len(recent) == RECENT:
        cut = recent[-1][3]  # the oldest recent answer
        mine_n: dict[int, int] = defaultdict(int)
        mine_k: dict[int, int] = defaultdict(int)
        for r in recent:
            mine_n[r[1]] += 1
            mine_k[r[1]] += r[2]
        for skill_id in skills:
            t = totals.get(skill_id)
            if t is None:  # no tally (an answer that came in between the two reads)
                continue
            t_n, t_k, t_first = t[2], t[3], t[7]
            n = t_n - mine_n[skill_id]
            if n <= 0:
                continue
            k = t_k - mine_k[skill_id]
            est = estimator.get(skill_id)
            accuracy = (k + 1) / (n + 2)
            est.theta = math.log(accuracy / (1 - accuracy))
            est.n, est.n_correct = n, k
            est.last_t = cut  # the skill's last answer is a recent one: the older ones end here
            est.half_life = max(0.5, (cut - t_first) / 3)
        total = max(0, n_all - len(recent))
        if total:
            total_correct = min(total, max(0, k_all - sum(mine_k.values())))
            acc = (total_correct + 1) / (total + 2)
            estimator.global_theta = math.log(acc / (1 - acc))
            estimator.n_global = total
    for _sid, skill_id, correct, days, difficulty, _conf in reversed(recent):
        estimator.observe(skill_id, correct=correct, now=days, difficulty=difficulty)
    return {skill_id: estimator.skills[skill_id].p_now(now_days) for skill_id in skills}


def _rows(sql: str, params: Sequence[Any]) -> list[tuple]:
    """All rows of a query run through Django's cursor (so it is logged and counted like any other).

    On PostgreSQL the rows come in binary: numbers arrive as machine values instead of text to parse, which
    reads the 20,000 tally rows in a fifth of the CPU time. Binary results need a server-side-binding cursor
    (Django's default binds on the client); Django turns prepared statements off (``prepare_threshold``), so
    it prepares nothing."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    import psycopg  # only on PostgreSQL

    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    raw.format = psycopg.pq.Format.BINARY
    wrap = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
    with wrap(raw) as cursor:  # type: ignore[arg-type]  # Django wraps any DB-API cursor
        cursor.execute(sql, params)
        return cursor.fetchall()


_RECENT_LATERAL = """
SELECT r.student_id, r.skill_id, r.correct, date_part('epoch', r.created_at) / 86400.0, i.difficulty, r.confidence
FROM unnest(%s::bigint[]) AS s(id)
CROSS JOIN LATERAL (
    SELECT a.id, a.student_id, a.skill_id, a.correct, a.created_at, a.item_id, a.confidence
    FROM tutor_attempt a
    WHERE a.student_id = s.id
      AND (SELECT ps.section_id = %s FROM tutor_practicesession ps WHERE ps.id = a.session_id)
    ORDER BY a.created_at DESC, a.id DESC
    LIMIT %s
) r
JOIN tutor_item i ON i.id = r.item_id
ORDER BY r.student_id, r.created_at DESC, r.id DESC
"""


def _recent_answers(
    base: QuerySet[Attempt], *, section_id: int, student_ids: list[int], filtered: bool = False
) -> list[tuple]:
    """Each student's last ``RECENT`` answers in the class, newest first: (student, skill, correct, time in days
    since 1970, item difficulty, confidence).

    On PostgreSQL one LATERAL query walks each student's ``attempt_student_recent`` index backwards for 30
    rows (~80 ms for 200 students with 1,000 answers each); the portable window query (SQLite) numbers every
    answer of the class first, which at 200,000 answers costs ~0.5 s. The class test is a boolean subquery on
    purpose: written as ``section_id = %s`` or as a join, the planner guesses it keeps 1 answer in 200, and
    sorts each student's every answer instead of stopping at 30.
    """
    if connection.vendor == "postgresql" and not filtered:  # the LATERAL query knows no skill or date filter
        return _rows(_RECENT_LATERAL, [student_ids, section_id, RECENT])
    return list(
        base.annotate(
            rank=Window(RowNumber(), partition_by=[F("student_id")], order_by=[F("created_at").desc(), F("id").desc()])
        )
        .filter(rank__lte=RECENT)
        .order_by("student_id", "-created_at", "-id")
        .values_list("student_id", "skill_id", "correct", _EpochDays("created_at"), "item__difficulty", "confidence")
    )


@dataclass
class _Baseline:
    """What the whole class did, for judging one student against the rest of it: answers and right answers per
    skill and in all, summed confidence, and how many students answered in the last ``INACTIVE_DAYS``."""

    skill_n: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    skill_k: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    n: int = 0
    k: int = 0
    confidence_sum: float = 0.0
    n_students: int = 0
    n_active: int = 0


def _baseline_read(*, section_id: int, classmates: QuerySet[User], since: datetime) -> _Baseline:
    """The class's baseline from its tallies, for a page that reads fewer students than it compares with: per
    skill sums (their totals are the class's), the students who answered since ``since``, the class size."""
    b = _Baseline()
    tallies = SkillTally.objects.filter(section_id=section_id, student__in=classmates).order_by()
    per_skill = (
        tallies.values("skill_id")
        .annotate(n=Sum("n"), k=Sum("n_correct"), c=Sum("confidence_sum"))
        .values_list("skill_id", "n", "k", "c")
    )
    for skill_id, n, k, c in per_skill:
        b.skill_n[skill_id], b.skill_k[skill_id] = n, k
        b.n, b.k, b.confidence_sum = b.n + n, b.k + k, b.confidence_sum + c
    b.n_active = tallies.filter(last_at__gt=since).values("student_id").distinct().count()
    b.n_students = classmates.count()
    return b


def _pct(x: float) -> int:
    return round(100 * x)


def _rest_share(n: int, k: int) -> float | None:
    """The rest of the class's share right, when it rests on enough answers to compare with."""
    return k / n if n >= REFERENCE_MIN_ANSWERS else None


def _flags(
    *, row: StudentRow, recent: list[tuple], names: dict[int, str], now: datetime, cls: _Baseline, mine: dict
) -> list[Flag]:
    """The student's flags, each with its evidence in one sentence. ``mine``: their totals per skill."""
    flags: list[Flag] = []
    rest_n, rest_k = cls.n - row.n_answers, cls.k - row.n_correct
    rest_all = _rest_share(rest_n, rest_k)
    # Stuck: their last answers on one skill clearly below what the rest of the class gets right on it.
    per_skill: dict[int, list[bool]] = defaultdict(list)
    for _sid, skill_id, correct, *_ in recent:  # newest first
        if len(per_skill[skill_id]) < STUCK_LOOKBACK:
            per_skill[skill_id].append(correct)
    stuck = []
    for skill_id, answers in per_skill.items():
        n = len(answers)
        if n < STUCK_MIN_ANSWERS:
            continue
        k = sum(answers)
        t = mine.get(skill_id)
        own_n, own_k = (t[2], t[3]) if t is not None else (0, 0)
        on_skill = _rest_share(cls.skill_n[skill_id] - own_n, cls.skill_k[skill_id] - own_k)
        reference = on_skill if on_skill is not None else rest_all if rest_all is not None else 0.5
        _low, high = wilson_interval(k, n)
        if high is not None and high < reference:
            stuck.append((k / n, -n, skill_id, n - k, n, on_skill))
    if stuck:
        stuck.sort()
        _share, _, skill_id, wrong, n, on_skill = stuck[0]
        more = f" (and {len(stuck) - 1} more skill{'s' if len(stuck) > 2 else ''})" if len(stuck) > 1 else ""
        if on_skill is not None:
            than = f", while the rest of the class gets {_pct(on_skill)} % of its answers on it right"
        elif rest_all is not None:
            than = f", while the rest of the class gets {_pct(rest_all)} % of all its answers right"
        else:
            than = ""
        flags.append(
            Flag(
                "stuck",
                "Stuck",
                f"Stuck on {names.get(skill_id, 'a skill')}: wrong on {wrong} of their last {n} answers on it"
                f"{than}{more}.",
                3,
            )
        )
    # Struggling: their recent answers in all clearly below the rest of the class.
    if len(recent) >= STRUGGLING_MIN_ANSWERS:
        k_recent = sum(1 for r in recent if r[2])
        _low, high = wilson_interval(k_recent, len(recent))
        reference = rest_all if rest_all is not None else 0.5
        if high is not None and high < reference:
            than = f", while the rest of the class gets {_pct(rest_all)} % of its answers right" if rest_all else ""
            flags.append(
                Flag(
                    "struggling",
                    "Struggling",
                    f"Struggling: right on {k_recent} of their last {len(recent)} answers{than}.",
                    3,
                )
            )
    # Declining: the last answers clearly below all earlier ones.
    last = recent[:DECLINE_RECENT]
    earlier_n = row.n_answers - len(last)
    if len(last) == DECLINE_RECENT and earlier_n >= DECLINE_RECENT:
        k_recent = sum(1 for r in last if r[2])
        earlier_acc = (row.n_correct - k_recent) / earlier_n
        _low, high = wilson_interval(k_recent, len(last))
        if k_recent / len(last) <= earlier_acc - DECLINE_DROP and high is not None and high < earlier_acc:
            flags.append(
                Flag(
                    "declining",
                    "Declining",
                    f"Declining: right on {k_recent} of their last {len(last)} answers, "
                    f"against {round(100 * earlier_acc)} % of their {earlier_n} earlier answers.",
                    2,
                )
            )
    # Overconfident: clearly and materially surer than right over all their answers, beyond the class's own gap.
    j = row.calibration
    if (
        j is not None
        and j.verdict == Verdict.OVER
        and j.n >= OVERCONFIDENT_MIN_ANSWERS
        and j.gap is not None
        and j.gap >= OVERCONFIDENT_GAP
        and j.gap_low is not None
    ):
        rest_c = cls.confidence_sum - (j.mean_confidence or 0.0) * j.n
        rest_gap = (rest_c - rest_k) / rest_n if rest_n >= REFERENCE_MIN_ANSWERS else None
        if j.gap_low > max(0.0, rest_gap or 0.0):
            than = (
                f" (the rest of the class: {_pct(rest_c / rest_n)} % sure, {_pct(rest_k / rest_n)} % right)"
                if rest_gap is not None
                else ""
            )
            flags.append(
                Flag(
                    "overconfident",
                    "Overconfident",
                    f"Overconfident: on average {j.confidence_pct} % sure before answering, "
                    f"but right on {j.accuracy_pct} % of {j.n} answers{than}.",
                    2,
                )
            )
    # Inactive: no answer for a week while most of the rest of the class answered (a class on holiday: nobody).
    others = cls.n_students - 1
    idle = None if row.last_at is None else (now - row.last_at).days
    if idle is None or idle >= INACTIVE_DAYS:
        active = cls.n_active  # this student is not among them
        if others > 0 and 2 * active > others:
            while_ = f", while {active} of the other {others} students answered in the last {INACTIVE_DAYS} days"
            what = (
                "has not answered anything in this class yet"
                if idle is None
                else f"no answer in this class for {idle} days"
            )
            flags.append(Flag("inactive", "Inactive", f"Inactive: {what}{while_}.", 1))
    return flags


def _activity(
    base: QuerySet[Attempt], *, section_id: int, student_ids: list[int], now: datetime, filtered: bool = False
) -> tuple[list[ActivityDay], int]:
    """Answers per local day, in one query.

    When the local days are UTC days (``TIME_ZONE = "UTC"``, the default) they are read from the day tallies
    the database keeps (``DayTally``, ~2,800 rows for 200 students over 14 days); otherwise the answers are
    counted: one conditional count per local day in one row (no per-row date function, which SQLite runs in
    Python and which costs more than the whole count). With a skill or date filter (``filtered``) the answers
    are counted too: the day tallies hold every skill."""
    today = timezone.localdate(now)
    first = today - timedelta(days=ACTIVITY_DAYS - 1)
    starts = [
        timezone.make_aware(datetime.combine(first + timedelta(days=i), datetime.min.time()))
        for i in range(ACTIVITY_DAYS + 1)
    ]
    if not filtered and all(start.utcoffset() == timedelta(0) for start in starts):
        per_day = dict(
            DayTally.objects.filter(section_id=section_id, student_id__in=student_ids, day__gte=first, day__lte=today)
            .values("day")
            .annotate(total=Sum("n"))
            .order_by()
            .values_list("day", "total")
        )
        counts = {f"d{i}": per_day.get(first + timedelta(days=i), 0) for i in range(ACTIVITY_DAYS)}
    else:
        counts = base.filter(created_at__gte=starts[0]).aggregate(
            **{
                f"d{i}": Count("id", filter=Q(created_at__gte=starts[i], created_at__lt=starts[i + 1]))
                for i in range(ACTIVITY_DAYS)
            }
        )
    top = max(counts.values(), default=0) or 0
    days = []
    for i in range(ACTIVITY_DAYS):
        n = counts[f"d{i}"] or 0
        height = 100.0 * n / top if top else 0.0
        days.append(ActivityDay(day=first + timedelta(days=i), n=n, x=10.0 + 20.0 * i, y=110.0 - height, height=height))
    return days, top


def _fallback_p(n: int, k: int, first_days: float, last_days: float, now_days: float) -> float:
    """``_fallback_p_sql`` for one (student, skill) in Python: the same formula, for totals that come from the
    answers themselves (a date range) rather than from a tally."""
    theta = math.log((k + 1) / (n - k + 1))
    recall = 2.0 ** max(-60.0, -max(0.0, now_days - last_days) / max(0.5, (last_days - first_days) / 3.0))
    return 1.0 / (1.0 + math.exp(-(PRIOR + (theta - PRIOR) * recall)))


def _answer_totals(base: QuerySet[Attempt], *, now_days: float) -> tuple[list[tuple], list[tuple]]:
    """The tallies' two reads computed from the answers themselves, for a date range, which the tallies cannot
    answer (they keep totals since the first answer). Same columns, same order."""
    sure = Q(confidence__gte=SURE)
    per_skill = [
        (sid, skill, n, k, s, sw, _fallback_p(n, k, f, la, now_days), f)
        for sid, skill, n, k, s, sw, f, la in base.order_by()
        .values("student_id", "skill_id")
        .annotate(
            n=Count("id"),
            k=Count("id", filter=Q(correct=True)),
            s=Count("id", filter=sure),
            sw=Count("id", filter=sure & Q(correct=False)),
            f=_EpochDays(Min("created_at")),
            la=_EpochDays(Max("created_at")),
        )
        .values_list("student_id", "skill_id", "n", "k", "s", "sw", "f", "la")
    ]
    per_student = list(
        base.order_by()
        .values("student_id")
        .annotate(n=Count("id"), k=Count("id", filter=Q(correct=True)), c=Sum("confidence"), last=Max("created_at"))
        .values_list("student_id", "n", "k", "c", "last")
    )
    return per_skill, per_student


def class_overview_for_section(
    *,
    section: Section,
    students: QuerySet[User],
    now: datetime | None = None,
    skill_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    classmates: QuerySet[User] | None = None,
) -> ClassOverview:
    """Everything the class overview shows, in a number of queries that does not grow with the class.

    ``students`` are the ones the viewer may see in this class (``tutor.access``); only their answers
    given in this class's sessions count, and with filters only those on ``skill_id`` given in
    [``start``, ``end``). Each student's flags compare them with the rest of ``classmates`` (by default
    ``students``: the page reads them all anyway; the student page reads one student and passes the class,
    which costs three more queries).
    """
    now = now or timezone.now()
    skills = list(Skill.objects.filter(course_id=section.course_id).order_by("position", "slug"))
    if skill_id is not None:
        skills = [s for s in skills if s.pk == skill_id]
    skill_ids = [s.pk for s in skills]
    names = {s.pk: s.name for s in skills}
    rows = [StudentRow(student=s, name=s.get_full_name() or s.username) for s in students]
    ids = [r.student.pk for r in rows]
    base = Attempt.objects.filter(session__section_id=section.pk, student_id__in=ids)

    now_days = _days(now)
    tallies = SkillTally.objects.filter(section_id=section.pk, student_id__in=ids).order_by()
    if skill_id is not None:
        base, tallies = base.filter(skill_id=skill_id), tallies.filter(skill_id=skill_id)
    if start is not None:
        base = base.filter(created_at__gte=start)
    if end is not None:
        base = base.filter(created_at__lt=end)
    dated = start is not None or end is not None
    # per student and skill: (student, skill, n, k, sure, sure_wrong, P(correct) from the tally alone, first answer
    # in days: the replay of the recently answered skills needs it); read by
    # the cursor, as the ORM's per-value converters cost more than the query for 20,000 rows (and no more columns
    # than the cells need: each value of 20,000 rows costs)
    baseline = _Baseline()  # the whole class, to judge each student against the rest of it (flags)
    totals: dict[int, dict[int, tuple]] = defaultdict(dict)
    if dated:
        per_skill_rows, per_student_rows = _answer_totals(base, now_days=now_days)
        for got in per_skill_rows:
            totals[got[0]][got[1]] = got
            baseline.skill_n[got[1]] += got[2]
            baseline.skill_k[got[1]] += got[3]
    elif ids:  # no student: the ORM would not query (an empty IN), nor do we
        sql, params = (
            tallies.annotate(p=_fallback_p_sql(now_days=now_days), first=_EpochDays("first_at"))
            .values_list("student_id", "skill_id", "n", "n_correct", "n_sure", "n_sure_wrong", "p", "first")
            .query.sql_with_params()
        )
        for t in _rows(sql, params):
            totals[t[0]][t[1]] = t
            baseline.skill_n[t[1]] += t[2]
            baseline.skill_k[t[1]] += t[3]
    # per student, summed in SQL: answers, right ones, the confidence sum (calibration) and the last answer
    if not dated:
        per_student_rows = list(
            tallies.values("student_id")
            .annotate(n=Sum("n"), k=Sum("n_correct"), c=Sum("confidence_sum"), last=Max("last_at"))
            .values_list("student_id", "n", "k", "c", "last")
        )
    per_student = {t[0]: t[1:] for t in per_student_rows}
    active_since = now - timedelta(days=INACTIVE_DAYS)
    for _sid, n_all, k_all, confidence_sum, last_at in per_student_rows:
        baseline.n += n_all or 0
        baseline.k += k_all or 0
        baseline.confidence_sum += confidence_sum or 0.0
        baseline.n_active += last_at is not None and last_at > active_since
    baseline.n_students = len(rows)
    if classmates is not None:
        baseline = _baseline_read(section_id=section.pk, classmates=classmates, since=active_since)

    recent: dict[int, list[tuple]] = defaultdict(list)
    filtered = dated or skill_id is not None
    for r in _recent_answers(base, section_id=section.pk, student_ids=ids, filtered=filtered):
        recent[r[0]].append(r)

    version, predictions = _model_predictions(student_ids=ids, skill_ids=skill_ids)
    for row in rows:
        sid = row.student.pk
        mine = totals.get(sid, {})
        n_all, k_all, confidence_sum, row.last_at = per_student.get(sid, (0, 0, 0.0, None))
        row.n_answers, row.n_correct = n_all, k_all
        row.calibration = calibration_judgment_from_totals(n=n_all, k=k_all, confidence_sum=confidence_sum)
        model_p = predictions.get(sid)
        from_model = model_p is not None
        replayed = (
            {}
            if from_model
            else _recent_estimates(totals=mine, recent=recent.get(sid, []), n_all=n_all, k_all=k_all, now_days=now_days)
        )
        tally = mine.get
        if model_p is not None:
            row.cells = [
                Cell(p, 0, 0, 0, 0, True) if t is None else Cell(p, t[2], t[3], t[4], t[5], True)
                for p, t in zip(model_p, map(tally, skill_ids), strict=True)
            ]
        else:
            estimate = replayed.get  # a recently answered skill's replayed estimate, else its tally's (t[6])
            row.cells = [
                Cell(None, 0, 0, 0, 0, False)
                if t is None
                else Cell(estimate(t[1], t[6]), t[2], t[3], t[4], t[5], False)
                for t in map(tally, skill_ids)
            ]
        row.flags = _flags(row=row, recent=recent.get(sid, []), names=names, now=now, cls=baseline, mine=mine)

    needs_help = sorted(
        (r for r in rows if r.flags),
        key=lambda r: (-r.priority, r.accuracy if r.accuracy is not None else 1.0, r.name),
    )
    activity, top = _activity(base, section_id=section.pk, student_ids=ids, now=now, filtered=filtered)
    return ClassOverview(
        section=section,
        skills=skills,
        rows=rows,
        needs_help=needs_help,
        activity=activity,
        activity_max=top,
        model_version=version if predictions else None,
        n_from_model=len(predictions),
    )
