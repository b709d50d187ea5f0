"""The class overview a teacher opens to see who needs help and why."""

from __future__ import annotations

import math
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    ItemFactory,
    OrganisationFactory,
    SectionFactory,
    SkillFactory,
    TeacherFactory,
    UserFactory,
    enrol,
)
from tests.factories import student_in as _student
from tutor import dashboard_selectors
from tutor.models import Attempt, PracticeSession, User
from tutor.policies import SkillEstimator

pytestmark = pytest.mark.django_db


def _answers(student, section, item, results, *, confidence=0.5, days_ago=0.0, key="a"):
    """Store answers in one session of ``section``, oldest first, a minute apart, ending ``days_ago`` days ago."""
    end = timezone.now() - timedelta(days=days_ago)
    session = PracticeSession.objects.create(student=student, section=section, started_at=end - timedelta(hours=3))
    Attempt.objects.bulk_create(
        Attempt(
            student=student,
            item=item,
            skill=item.skill,
            session=session,
            answer="42" if ok else "1",
            correct=ok,
            confidence=confidence,
            idempotency_key=f"{key}-{session.pk}-{i}",
            created_at=end - timedelta(minutes=len(results) - i),
        )
        for i, ok in enumerate(results)
    )


@pytest.fixture
def klass():
    section = SectionFactory()
    skills = [SkillFactory(course=section.course) for _ in range(3)]
    items = [ItemFactory(skill=s) for s in skills]
    teacher = TeacherFactory(organisation=section.organisation)
    section.teachers.add(teacher)
    return section, skills, items, teacher


def _url(section):
    return reverse("class_overview", args=[section.pk])


def test_the_staff_home_links_each_class_to_its_overview(klass, client):
    section, _, _, teacher = klass
    client.force_login(teacher)
    assert _url(section) in client.get(reverse("home")).content.decode()


def test_the_numbers_shown_match_the_database(klass, client):
    section, skills, items, teacher = klass
    ana, ben, cleo = _student(section, "Ana"), _student(section, "Ben"), _student(section, "Cleo")
    # Ana: her last 8 answers on skill 0 wrong -> stuck on it (the others have too few answers on it to compare
    # with, so their share right on all skills: 8 of 23).
    _answers(ana, section, items[0], [True] + [False] * 8)
    _answers(ana, section, items[1], [True, True], key="b")
    # Ben: "Certain" on 20 answers, right on 5 -> struggling and overconfident; 15 of 20 sure answers wrong.
    _answers(ben, section, items[1], [True, False, False, False] * 5, confidence=1.0)
    # Cleo: last answer 10 days ago, while both others answered today -> inactive.
    _answers(cleo, section, items[2], [True, True, True], days_ago=10)
    # An answer in another class of the same course never counts here.
    other = SectionFactory(organisation=section.organisation, course=section.course)
    enrol(ana, other)
    _answers(ana, other, items[0], [True] * 7, key="other")

    client.force_login(teacher)
    response = client.get(_url(section))
    assert response.status_code == 200
    overview = response.context["overview"]
    rows = {r.student.first_name: r for r in overview.rows}
    assert rows["Ana"].n_answers == Attempt.objects.filter(student=ana, session__section=section).count() == 11
    cell = rows["Ana"].cells[0]
    assert (cell.n, cell.n_correct) == (9, 1)
    assert rows["Ben"].cells[1].n_sure == 20 and rows["Ben"].cells[1].n_sure_wrong == 15
    kinds = {r.student.first_name: [f.kind for f in r.flags] for r in overview.needs_help}
    assert kinds["Ana"] == ["stuck"]
    assert kinds["Ben"] == ["struggling", "overconfident"]  # 2 of his last 8 on skill 1 right: not clearly stuck
    assert kinds["Cleo"] == ["inactive"]
    assert [r.student.first_name for r in overview.needs_help] == ["Ben", "Ana", "Cleo"]  # most reasons first
    html = response.content.decode()
    assert (
        f"Stuck on {skills[0].name}: wrong on 8 of their last 8 answers on it, while the rest of the class gets 35 % "
        "of all its answers right." in html
    )
    assert "Struggling: right on 5 of their last 20 answers." in html
    assert "Overconfident: on average 100 % sure before answering, but right on 25 % of 20 answers." in html
    assert "Inactive: no answer in this class for 10 days, while 2 of the other 2 students answered" in html
    assert "15/20" in html  # Ben's confident-but-wrong cell
    assert overview.activity_total == 11 + 20 + 3  # Cleo's answers, 10 days ago, are inside the 14 days


def test_declining_is_flagged_with_both_accuracies(klass, client):
    section, _, items, teacher = klass
    dana = _student(section, "Dana")
    _answers(dana, section, items[0], [True] * 20, days_ago=2, key="old")
    _answers(dana, section, items[1], [False, True, False, False, True, False, False, False, True, False], key="new")
    client.force_login(teacher)
    html = client.get(_url(section)).content.decode()
    assert "Declining: right on 3 of their last 10 answers, against 100 % of their 20 earlier answers." in html


def test_in_a_class_of_ordinary_students_only_the_clear_cases_are_flagged(klass):
    """Twenty ordinary students (about 60 % right, a few wrong in a row now and then, roughly as sure as right)
    flag nobody; the one who is clearly stuck, struggling, overconfident, declining or inactive is flagged, each
    with the class to compare with in the reason."""
    section, skills, items, _teacher = klass
    ordinary = [True, False, True, True, False, False, True, True, False, True]  # 60 %, 2 wrong in a row
    students = []
    for i in range(20):
        s = _student(section, f"Ord{i:02d}")
        shift = i % 10
        pattern = ordinary[shift:] + ordinary[:shift]
        for j, item in enumerate(items):
            _answers(
                s, section, item, pattern, confidence=0.5 + 0.25 * (i % 2), days_ago=0.1 * (2 - j), key=f"o{i}-{j}"
            )
        students.append(s)
    stuck = _student(section, "Stuck")  # ordinary on two skills, then 7 wrong on the third
    _answers(stuck, section, items[0], ordinary * 2, confidence=0.5, days_ago=1, key="s0")
    _answers(stuck, section, items[1], ordinary, confidence=0.5, days_ago=0.5, key="s1")
    _answers(stuck, section, items[2], [False] * 7, confidence=0.5, key="s2")
    weak = _student(section, "Weak")  # right on 6 of 30 across the skills, and says so (not overconfident)
    for j, item in enumerate(items):
        _answers(
            weak,
            section,
            item,
            [True, False, False, False, False, True, False, False, False, False],
            confidence=0.25,
            days_ago=0.1 * (2 - j),
            key=f"w{j}",
        )
    sure = _student(section, "Sure")  # as good as the class, but "Certain" every time
    for j, item in enumerate(items):
        _answers(sure, section, item, ordinary, confidence=1.0, days_ago=0.1 * (2 - j), key=f"c{j}")
    fading = _student(section, "Fading")  # 20 right, then 2 of 10
    _answers(fading, section, items[0], [True] * 20, confidence=0.5, days_ago=2, key="f0")
    _answers(
        fading,
        section,
        items[1],
        [False, False, True, False, False, False, True, False, False, False],
        confidence=0.5,
        key="f1",
    )
    away = _student(section, "Away")  # ordinary, but nothing for 9 days
    _answers(away, section, items[0], ordinary * 2, confidence=0.5, days_ago=9, key="a0")
    overview = dashboard_selectors.class_overview_for_section(
        section=section, students=User.objects.filter(enrollments__section=section)
    )
    flagged = {r.student.first_name: [f.kind for f in r.flags] for r in overview.needs_help}
    assert flagged == {
        "Stuck": ["stuck", "declining"],  # 7 wrong on one skill are also most of their last 10 answers
        "Weak": ["stuck", "struggling"],  # weak on every skill
        "Sure": ["overconfident"],
        "Fading": ["declining"],
        "Away": ["inactive"],
    }
    reasons = {r.student.first_name: r.flags[-1].reason for r in overview.needs_help}
    by_name = {r.student.first_name: r for r in overview.needs_help}
    assert [r.student.first_name for r in overview.needs_help][:2] == ["Weak", "Stuck"]  # most reasons first
    assert by_name["Stuck"].flags[0].reason == (
        f"Stuck on {skills[2].name}: wrong on 7 of their last 7 answers on it, "
        "while the rest of the class gets 58 % of its answers on it right."
    )
    assert reasons["Weak"].startswith("Struggling: right on 6 of their last 30 answers, while the rest of the class")
    assert reasons["Sure"].startswith("Overconfident: on average 100 % sure before answering, but right on 60 % of 30")
    assert reasons["Away"].startswith("Inactive: no answer in this class for 9 days, while 24 of the other 24 students")


def test_a_class_that_paused_is_not_flagged_inactive(klass):
    """Nobody answered for ten days (a holiday): no one is singled out."""
    section, _, items, _teacher = klass
    for i in range(5):
        _answers(_student(section, f"H{i}"), section, items[0], [True, False, True], days_ago=10, key=f"h{i}")
    overview = dashboard_selectors.class_overview_for_section(
        section=section, students=User.objects.filter(enrollments__section=section)
    )
    assert overview.needs_help == []


def test_the_fallback_estimate_is_shown_when_no_model_is_active(klass, client):
    section, _, items, teacher = klass
    eve = _student(section, "Eve")
    _answers(eve, section, items[0], [True] * 8)
    client.force_login(teacher)
    row = client.get(_url(section)).context["overview"].rows[0]
    assert row.cells[0].p is not None and row.cells[0].p > 0.6 and not row.cells[0].from_model
    assert row.cells[1].p is None  # never answered: no estimate, an empty cell


def test_another_teacher_gets_404(klass, client):
    section, *_ = klass
    client.force_login(TeacherFactory(organisation=section.organisation))
    assert client.get(_url(section)).status_code == 404


def test_a_student_of_the_class_gets_404(klass, client):
    section, *_ = klass
    client.force_login(_student(section, "Finn"))
    assert client.get(_url(section)).status_code == 404


def test_an_admin_of_the_organisation_sees_it_and_one_of_another_does_not(klass, client):
    section, *_ = klass
    client.force_login(UserFactory(role=User.Role.ADMIN, organisation=section.organisation))
    assert client.get(_url(section)).status_code == 200
    client.force_login(UserFactory(role=User.Role.ADMIN, organisation=OrganisationFactory()))
    assert client.get(_url(section)).status_code == 404


def test_anonymous_goes_to_login(klass, client):
    section, *_ = klass
    response = client.get(_url(section))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def _class_of(n_students):
    section = SectionFactory()
    skills = [SkillFactory(course=section.course) for _ in range(4)]
    items = [ItemFactory(skill=s) for s in skills]
    teacher = TeacherFactory(organisation=section.organisation)
    section.teachers.add(teacher)
    for i in range(n_students):
        s = _student(section, f"S{i}")
        _answers(s, section, items[i % 4], [bool(j % 3) for j in range(35)], confidence=0.75, key=f"s{i}")
    return section, teacher


@pytest.mark.parametrize("n_students", [5, 30])
def test_the_number_of_queries_does_not_grow_with_the_class(n_students, client, django_assert_num_queries):
    section, teacher = _class_of(n_students)
    client.force_login(teacher)
    # session, user, class, students, skills, (student, skill) totals, confidence totals, recent answers,
    # active model, answers per day, the skill filter's choices
    with django_assert_num_queries(11):
        assert client.get(_url(section)).status_code == 200


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_answers_per_day_are_counted_on_local_days(zone, klass):
    """UTC days read from the day tallies; other local days counted from the answers: both match a recount."""
    section, _, items, _teacher = klass
    ana, ben = _student(section, "Ana"), _student(section, "Ben")
    now = timezone.now()
    hours = [0.5, 3, 7, 13, 23.5, 24.5, 30, 49, 70, 100, 200, 330, 335, 340, 500]  # some outside the 14 days
    for i, h in enumerate(hours):
        _answers((ana, ben)[i % 2], section, items[i % 3], [i % 3 == 0], days_ago=h / 24, key=f"d{i}")
    other = SectionFactory(organisation=section.organisation, course=section.course)
    _answers(ana, other, items[0], [True] * 4, key="other")  # another class: never counted here
    with timezone.override(zone):
        overview = dashboard_selectors.class_overview_for_section(
            section=section, students=User.objects.filter(pk__in=[ana.pk, ben.pk]), now=now
        )
        local = [timezone.localtime(a.created_at).date() for a in Attempt.objects.filter(session__section=section)]
    expected = {d.day: sum(1 for x in local if x == d.day) for d in overview.activity}
    assert {d.day: d.n for d in overview.activity} == expected
    assert overview.activity[-1].day == timezone.localtime(now, timezone=ZoneInfo(zone)).date()
    assert 0 < overview.activity_total < len(hours)
    assert overview.activity_max == max(expected.values())


def _replayed_p(student, section, skill_ids, now):
    """The scheduler's estimate from scratch: per-skill totals of all but the last 30 answers, then those replayed."""
    answers = list(
        Attempt.objects.filter(student=student, session__section=section)
        .select_related("item")
        .order_by("-created_at", "-id")
    )
    recent, older = answers[:30], answers[30:]
    days = lambda a: a.created_at.timestamp() / 86400  # noqa: E731
    estimator = SkillEstimator({a.skill_id for a in answers})
    if len(recent) == 30 and older:
        cut = days(recent[-1])
        for skill_id in {a.skill_id for a in older}:
            mine = [a for a in older if a.skill_id == skill_id]
            n, k = len(mine), sum(a.correct for a in mine)
            est = estimator.get(skill_id)
            est.theta = math.log((k + 1) / (n - k + 1))
            est.n, est.n_correct = n, k
            first = min(days(a) for a in answers if a.skill_id == skill_id)
            est.last_t = cut if any(a.skill_id == skill_id for a in recent) else max(days(a) for a in mine)
            est.half_life = max(0.5, (est.last_t - first) / 3)
        k = sum(a.correct for a in older)
        estimator.global_theta = math.log((k + 1) / (len(older) - k + 1))
        estimator.n_global = len(older)
    for a in reversed(recent):
        estimator.observe(a.skill_id, correct=a.correct, now=days(a), difficulty=a.item.difficulty)
    answered = {a.skill_id for a in answers}
    return [estimator.get(s).p_now(now.timestamp() / 86400) if s in answered else None for s in skill_ids]


def test_the_fallback_estimate_is_the_scheduler_replay_of_the_answers():
    section = SectionFactory()
    skills = [SkillFactory(course=section.course) for _ in range(5)]
    items = [ItemFactory(skill=s, difficulty=0.2 + 0.15 * i) for i, s in enumerate(skills)]
    students = [_student(section, f"R{i}") for i in range(4)]
    for i, student in enumerate(students):
        n_sessions = (1, 3, 6, 9)[i]  # from 7 answers (all replayed) to 63 (totals, then the last 30)
        for j in range(n_sessions):
            item = items[(i + j * (j + 1) // 2) % (4 if i < 3 else 3)]  # student 3 never answers skill 3 or 4
            pattern = [(i * 7 + j * 3 + m) % 4 != 0 for m in range(7)]
            _answers(student, section, item, pattern, days_ago=20 - 2.3 * j + 0.1 * i, key=f"r{i}-{j}")
    now = timezone.now()
    overview = dashboard_selectors.class_overview_for_section(
        section=section, students=User.objects.filter(pk__in=[s.pk for s in students]).order_by("pk"), now=now
    )
    skill_ids = [s.pk for s in overview.skills]
    for row in overview.rows:
        expected = _replayed_p(row.student, section, skill_ids, now)
        assert [c.p for c in row.cells] == [None if e is None else pytest.approx(e, rel=1e-9) for e in expected]
    assert sum(c.p is None for row in overview.rows for c in row.cells) >= 2


def test_the_heatmap_cells_follow_the_cell_properties(klass, client):
    """The heatmap tags write colour steps and weights inline: they match ``Cell.p_step``, ``weight`` and
    ``sure_wrong_step``, and a student's name is escaped."""
    section, _, items, teacher = klass
    ana, bob = _student(section, "<b>Ana</b>"), _student(section, "Bob")
    _answers(
        ana, section, items[0], [True, False, True, True, False, True, True, True, False, True, True], confidence=1.0
    )
    _answers(ana, section, items[1], [False, False, True], confidence=0.75, key="b")
    _answers(bob, section, items[2], [True] * 5, confidence=0.25, key="c")
    client.force_login(teacher)
    response = client.get(_url(section))
    html = response.content.decode()
    assert "<b>Ana</b>" not in html and "&lt;b&gt;Ana&lt;/b&gt;" in html
    for row in response.context["overview"].rows:
        name = row.name.replace("<", "&lt;").replace(">", "&gt;")
        mastery = "".join(
            "<td></td>"
            if c.p is None
            else f'<td class="h{c.p_step} {c.weight}">{round(c.p * 100)} %<small>{c.n}</small></td>'
            for c in row.cells
        )
        sure = "".join(
            f'<td class="c{c.sure_wrong_step}">{c.n_sure_wrong}/{c.n_sure}</td>' if c.n_sure else "<td></td>"
            for c in row.cells
        )
        link = reverse("class_student", args=[section.pk, row.student.pk])  # each name opens the student page
        head = f'<th scope="row"><a href="{link}">{name}</a></th>'
        assert f"<tr>{head}{mastery}</tr>" in html
        assert f"<tr>{head}{sure}</tr>" in html
    assert 'class="c1">3/14<' not in html and 'class="c1">3/11<' in html  # Ana's sure answers on skill 0


def test_a_skill_practised_years_ago_has_forgotten_back_to_the_prior(klass, client):
    """Decay far below a float's range (2 ** -1500) must neither fail in SQL nor differ from the replay."""
    section, _, items, teacher = klass
    gus = _student(section, "Gus")
    _answers(gus, section, items[0], [True] * 3, days_ago=800, key="old")
    _answers(gus, section, items[1], [True, False] * 20, key="new")  # 40 recent answers: skill 0 is not replayed
    client.force_login(teacher)
    response = client.get(_url(section))
    assert response.status_code == 200
    cell = response.context["overview"].rows[0].cells[0]
    assert (cell.n, cell.p) == (3, pytest.approx(1 / (1 + math.exp(0.5)), rel=1e-12))  # P(correct) at the prior


def test_a_date_range_over_every_answer_gives_the_tallies_own_estimates(klass):
    """A date range counts from the answers with ``_fallback_p``, the Python twin of the tallies'
    ``_fallback_p_sql``: over a range holding every answer, both give the same cells."""
    section, _, items, _ = klass
    ana = _student(section, "Ana")
    # old answers on two skills (past the recent window, so their estimate is the tally's own), then 30 recent
    _answers(ana, section, items[0], [True, False, True, True, False], days_ago=20, key="a")
    _answers(ana, section, items[1], [False, True, False], days_ago=9, key="b")
    _answers(ana, section, items[2], [True] * 30, days_ago=0.5, key="c")
    now = timezone.now()
    students = User.objects.filter(pk=ana.pk)
    plain = dashboard_selectors.class_overview_for_section(section=section, students=students, now=now)
    dated = dashboard_selectors.class_overview_for_section(
        section=section, students=students, now=now, start=now - timedelta(days=400), end=now + timedelta(days=1)
    )
    got = [(c.p, c.n, c.n_correct) for c in dated.rows[0].cells]
    want = [(c.p, c.n, c.n_correct) for c in plain.rows[0].cells]
    assert [(n, k) for _, n, k in got] == [(n, k) for _, n, k in want] == [(5, 3), (3, 1), (30, 30)]
    assert [p for p, _, _ in got] == pytest.approx([p for p, _, _ in want], abs=1e-9)


@pytest.mark.django_db(transaction=True)
def test_the_dashboard_bench_runs_and_leaves_the_database_unchanged():
    import io
    import json

    from django.core.management import call_command

    from tutor.models import DayTally, SkillTally

    before = (Attempt.objects.count(), SkillTally.objects.count(), DayTally.objects.count(), User.objects.count())
    out = io.StringIO()
    call_command(
        "dashboard_bench", students=4, skills=3, attempts=60, renders=2, json=True, stdout=out, stderr=io.StringIO()
    )
    got = json.loads(out.getvalue())
    assert got["renders"] == 2 and got["attempts"] == 60 and got["queries"] > 0 and got["median_ms"] > 0
    assert got["tallies"] in ("rebuilt from the answers", "kept by the triggers")
    after = (Attempt.objects.count(), SkillTally.objects.count(), DayTally.objects.count(), User.objects.count())
    assert after == before
