"""The teacher's student page, item analytics and "Can I trust the model?" page of a class."""

from __future__ import annotations

import statistics
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from learner_models import loader
from learner_models import services as lm_services
from learner_models.core import Response, StudentSequence
from metacog.models import Reflection, StrategySuggestion
from tests.factories import (
    ItemFactory,
    OrganisationFactory,
    SectionFactory,
    SkillFactory,
    StudentFactory,
    TeacherFactory,
    UserFactory,
    enrol,
)
from tests.factories import student_in as _student
from tutor.models import Attempt, PracticeSession, SessionItem, User
from tutor.templatetags.tutor_extras import percent

pytestmark = pytest.mark.django_db


def _answers(student, section, item, results, *, answers=None, confidence=0.75, hints=0, ms=None, key="a", reason=""):
    """Store answers in one new session of ``section``, oldest first, a minute apart, ending now."""
    end = timezone.now()
    session = PracticeSession.objects.create(student=student, section=section, started_at=end - timedelta(hours=1))
    out = []
    for i, ok in enumerate(results):
        at = end - timedelta(minutes=len(results) - i)
        served = SessionItem.objects.create(session=session, item=item, position=i + 1, served_at=at, reason=reason)
        out.append(
            Attempt(
                student=student,
                item=item,
                skill=item.skill,
                session=session,
                session_item=served,
                answer="42" if ok else (answers[i] if answers else "41"),
                correct=ok,
                confidence=confidence,
                hints_used=hints,
                response_time_ms=ms[i] if ms else None,
                idempotency_key=f"{key}-{session.pk}-{i}",
                created_at=at,
            )
        )
    Attempt.objects.bulk_create(out)
    return session


@pytest.fixture
def klass():
    section = SectionFactory()
    skills = [SkillFactory(course=section.course) for _ in range(2)]
    items = [ItemFactory(skill=s, course=section.course) for s in skills]
    teacher = TeacherFactory(organisation=section.organisation)
    section.teachers.add(teacher)
    return section, skills, items, teacher


def _urls(section, student):
    return [
        reverse("class_student", args=[section.pk, student.pk]),
        reverse("class_items", args=[section.pk]),
        reverse("class_model", args=[section.pk]),
    ]


# --- who may see what ------------------------------------------------------------------------------------


def test_every_page_is_for_the_classs_teachers_and_its_organisations_admins_only(klass, client):
    section, _, items, teacher = klass
    ana = _student(section, "Ana")
    _answers(ana, section, items[0], [True, False])
    urls = _urls(section, ana)

    for url in urls:
        assert client.get(url).status_code == 302  # signed out: to the login page
    client.force_login(teacher)
    for url in urls:
        assert client.get(url).status_code == 200, url
    client.force_login(UserFactory(role=User.Role.ADMIN, organisation=section.organisation))
    for url in urls:
        assert client.get(url).status_code == 200, url
    for outsider in (
        TeacherFactory(organisation=section.organisation),  # teaches another class
        UserFactory(role=User.Role.ADMIN, organisation=OrganisationFactory()),
        ana,  # the student themselves: these are teachers' pages
    ):
        client.force_login(outsider)
        for url in urls:
            assert client.get(url).status_code == 404, (outsider.username, url)


def test_a_student_outside_the_class_has_no_page_in_it(klass, client):
    section, _, _, teacher = klass
    other = SectionFactory(organisation=section.organisation, course=section.course)
    other.teachers.add(teacher)
    ben = _student(other, "Ben")  # the same teacher's student, but in their other class
    client.force_login(teacher)
    assert client.get(reverse("class_student", args=[section.pk, ben.pk])).status_code == 404
    assert client.get(reverse("class_student", args=[other.pk, ben.pk])).status_code == 200


# --- student page -----------------------------------------------------------------------------------------


def test_the_student_page_shows_this_class_only_with_numbers_from_the_database(klass, client):
    section, skills, items, teacher = klass
    ana = _student(section, "Ana")
    _answers(
        ana,
        section,
        items[0],
        [True, False, False, True, False, False],
        answers=[None, "7", "7", None, "7", "9"],
        ms=[1000, 2000, 3000, 4000, 5000, 12300],
        reason="practise it: predicted success 55 %",
    )
    # A classmate right on all 20 answers on that skill: Ana's 2 of 6 are clearly below the rest of the class.
    _answers(_student(section, "Ben"), section, items[0], [True] * 20, key="ben")
    # The same student in a class this teacher does not teach: nothing of it shows here.
    elsewhere = SectionFactory(organisation=section.organisation, course=section.course)
    enrol(ana, elsewhere)
    _answers(ana, elsewhere, items[1], [True] * 9, key="elsewhere")
    Reflection.objects.create(
        student=ana,
        section=section,
        kind="evaluation",
        prompt="What worked?",
        answer="Drawing it",
        created_at=timezone.now(),
    )
    Reflection.objects.create(
        student=ana,
        section=elsewhere,
        kind="evaluation",
        prompt="What worked?",
        answer="SECRET",
        created_at=timezone.now(),
    )
    StrategySuggestion.objects.create(
        student=ana,
        section=section,
        strategy="self_explanation",
        reason="You got several wrong while sure.",
        status=StrategySuggestion.Status.ACCEPTED,
        created_at=timezone.now(),
        outcome_n=8,
        performance_gain=0.12,
        reward=0.1,
    )

    client.force_login(teacher)
    response = client.get(reverse("class_student", args=[section.pk, ana.pk]))
    page = response.context["page"]
    html = response.content.decode()

    in_class = Attempt.objects.filter(student=ana, session__section=section)
    assert page.n_answers == in_class.count() == 6 and page.n_right == in_class.filter(correct=True).count() == 2
    assert [c.skill for c in page.curves] == [skills[0]] and [c.skill for c in page.unpractised] == [skills[1]]
    points = page.curves[0].points  # 6 answers: two groups of 3
    assert [(p.first, p.last, p.right, p.n) for p in points] == [(1, 3, 1, 3), (4, 6, 1, 3)]
    assert len(page.answers) == 6 and page.answers[0].attempt.answer == "9" and page.answers[0].seconds == 12.3
    assert [s.judgment.n for s in page.sessions] == [6]
    assert "12.3 s" in html and "practise it: predicted success 55 %" in html and "Drawing it" in html
    assert "SECRET" not in html
    assert (
        "answers in the sessions after the one it was used in, the student got 12 percentage points more right than predicted"
        in html
    )
    assert 'Answers in this class: <strong class="n-answers">6</strong>' in html
    assert (  # the overview's flag, reused, with the same comparison with the class
        f"{skills[0].name}: wrong on 4 of their last 6 answers on it, while the rest of the class gets 100 % of its"
        " answers on it right" in html
    )


def test_the_class_overview_links_names_to_the_student_page(klass, client):
    section, _, items, teacher = klass
    ana = _student(section, "Ana")
    _answers(ana, section, items[0], [False] * 5)  # stuck: in the who-needs-help list too
    client.force_login(teacher)
    html = client.get(reverse("class_overview", args=[section.pk])).content.decode()
    url = reverse("class_student", args=[section.pk, ana.pk])
    assert html.count(f'href="{url}"') == 3  # who needs help, mastery heatmap, confident-but-wrong heatmap


@pytest.mark.parametrize("n_answers", [4, 60])
def test_the_student_page_queries_do_not_grow_with_answers_or_classmates(
    n_answers, klass, client, django_assert_num_queries
):
    section, skills, items, teacher = klass
    ana = _student(section, "Ana")
    for i in range(n_answers // 4):  # more answers, more sessions, more classmates
        _answers(ana, section, items[i % 2], [True, False, True, True], key=f"k{i}")
        _answers(_student(section, f"Mate{i}"), section, items[0], [True], key=f"m{i}")
    Reflection.objects.create(student=ana, section=section, kind="evaluation", prompt="?", created_at=timezone.now())
    client.force_login(teacher)
    # session, user, class, student; the overview's reads (skills, totals, per-student sums, recent answers,
    # active model, answers per day); answers in order, their sessions, the latest answers; reflections,
    # classes they may see (in the reflections' query), suggestions; the active model once more, for what it
    # believes about the student (none here); the class to compare the student with (flags): 3
    with django_assert_num_queries(20):
        assert client.get(reverse("class_student", args=[section.pk, ana.pk])).status_code == 200


# --- item analytics ---------------------------------------------------------------------------------------


def test_item_figures_match_the_answers(klass, client):
    section, skills, items, teacher = klass
    strong = [_student(section, f"Strong{i}") for i in range(2)]
    weak = [_student(section, f"Weak{i}") for i in range(2)]
    middle = [_student(section, f"Mid{i}") for i in range(4)]
    times = [3000, 1000, 2000, 9000]
    for i, s in enumerate(strong):
        _answers(s, section, items[0], [True, True, True, True], ms=times, key=f"s{i}")
    for i, s in enumerate(weak):
        _answers(
            s, section, items[0], [False, False, False, True], answers=["2/4", "2/4", "3", None], hints=1, key=f"w{i}"
        )
    for i, s in enumerate(middle):
        _answers(s, section, items[1], [True, False], answers=[None, "13"], key=f"m{i}")
    once = ItemFactory(skill=skills[0], course=section.course)  # one wrong answer: not ranked as the hardest
    _answers(middle[0], section, once, [False], key="once")

    client.force_login(teacher)
    response = client.get(reverse("class_items", args=[section.pk]))
    analytics = response.context["analytics"]
    rows = {r.item.pk: r for s in analytics.skills for r in s.items}
    first = rows[items[0].pk]
    assert (first.n, first.n_right, first.n_students) == (16, 10, 4)
    assert first.difficulty == 10 / 16
    # 8 students: the upper and lower 27 % are 2 each, the strong and the weak ones.
    assert analytics.n_upper == analytics.n_lower == 2
    assert first.discrimination == pytest.approx(1.0 - 2 / 8)
    assert [(w.answer, w.count) for w in first.wrong] == [("2/4", 4), ("3", 2)]
    assert first.hint_share == 8 / 16
    assert first.median_seconds == statistics.median(times * 2) / 1000
    second = rows[items[1].pk]
    assert second.discrimination is None  # the strong and weak students never answered it
    assert [(w.answer, w.count) for w in second.wrong] == [("13", 4)]
    html = response.content.decode()
    assert (
        "<code>2/4</code>: 4 times" in html
        and f'<td class="num share-right">{percent(10 / 16)}</td>' in html
        and "upper–lower group difference" in html
    )
    skill_row = analytics.skills[0]
    assert (skill_row.n, skill_row.n_right) == (17, 10)
    assert skill_row.hardest.item == items[0] and [r.item for r in skill_row.answered] == [items[0], once]


@pytest.mark.parametrize("size", [1, 4])
def test_the_items_page_queries_do_not_grow_with_items_or_students(size, klass, client, django_assert_num_queries):
    section, skills, items, teacher = klass
    more = [ItemFactory(skill=skills[i % 2], course=section.course) for i in range(size * 3)]
    for i in range(size * 5):
        _answers(_student(section, f"S{i}"), section, more[i % len(more)], [True, False], ms=[1000, 2000], key=f"s{i}")
    client.force_login(teacher)
    # session, user, class, students, upper/lower totals, skills, items, per-item counts, medians, wrong answers
    with django_assert_num_queries(10):
        assert client.get(reverse("class_items", args=[section.pk])).status_code == 200


# --- can I trust the model? ------------------------------------------------------------------------------


def test_with_no_active_model_the_page_says_so(klass, client):
    section, _, items, teacher = klass
    _answers(_student(section, "Ana"), section, items[0], [True])
    client.force_login(teacher)
    html = client.get(reverse("class_model", args=[section.pk])).content.decode()
    assert "No learner model is active, so there are no model predictions to check." in html


def _trained_on(section, name):
    """A student of ``section`` whom training uses: not one of the fixed held-out 20 % (``_is_held_out`` hashes
    the user id), so the fixture trains on 8 students however many users earlier tests created."""
    while True:
        student = StudentFactory(organisation=section.organisation, first_name=name, last_name="Test")
        if not lm_services._is_held_out(student.pk):
            enrol(student, section)
            return student
        student.delete()


@pytest.fixture
def trained(klass, settings, tmp_path):
    """An active Elo model trained on the class's first answers; then more answers come after its cut-off."""
    settings.MEDIA_ROOT = tmp_path / "media"
    loader.clear()
    section, _, items, teacher = klass
    students = [_trained_on(section, f"S{i}") for i in range(8)]
    for i, s in enumerate(students):
        _answers(s, section, items[i % 2], [bool((i + j) % 3) for j in range(12)], key=f"train{i}")
    run, _ = lm_services.training_run_request(algorithm="elo", hyperparameters={}, enqueue=False)
    version = lm_services.training_run_execute(run_id=run.pk, device="cpu")
    version = lm_services.model_version_activate(version=version)
    yield section, items, teacher, students, version
    loader.clear()


def test_the_models_predictions_are_checked_on_answers_after_its_training(trained, client):
    section, items, teacher, students, version = trained
    for i, s in enumerate(students[:5]):
        _answers(s, section, items[0], [True, i % 2 == 0, False], key=f"after{i}")
    cutoff = version.training_run.cutoff_attempt_id

    client.force_login(teacher)
    response = client.get(reverse("class_model", args=[section.pk]))
    trust = response.context["trust"]
    after = Attempt.objects.filter(session__section=section, id__gt=cutoff)
    assert trust.overall.n == after.count() == 15 and trust.overall.right == after.filter(correct=True).count()
    assert trust.n_before_cutoff == Attempt.objects.filter(session__section=section, id__lte=cutoff).count() == 96
    assert sum(b.tally.n for b in trust.bands) == 15
    assert [s.tally.n for s in trust.skills] == [15]  # only skill 0 was answered after the cut-off

    # The average prediction is the model's own, each answer predicted from the student's earlier ones.
    model = loader.load_model(version)
    expected = []
    for s in students[:5]:
        rows = list(Attempt.objects.filter(student=s).order_by("created_at", "id"))
        seq = StudentSequence.from_responses(
            Response(skill=a.skill_id, correct=int(a.correct), item=a.item_id) for a in rows
        )
        p = model.predict_online([seq])[0]
        expected += [float(p[k]) for k, a in enumerate(rows) if a.pk > cutoff]
    assert trust.overall.predicted == pytest.approx(sum(expected) / len(expected), abs=0.02)

    per_student = {r.student.pk: r for r in trust.students}
    assert per_student[students[0].pk].n_class == 15 and per_student[students[0].pk].tally.n == 3
    assert per_student[students[7].pk].tally.n == 0
    html = response.content.decode()
    assert f"Over <strong>15</strong> answers in this class since the model (version {version.pk})" in html


@pytest.mark.parametrize("extra", [0, 6])
def test_the_model_page_queries_do_not_grow_with_the_class(extra, trained, client, django_assert_num_queries):
    section, items, teacher, students, _ = trained
    for i in range(extra):
        s = _student(section, f"Late{i}")
        _answers(s, section, items[1], [True, False], key=f"late{i}")
    client.force_login(teacher)
    # session, user, class, students, skills, active model, its training run, every answer, stored states
    with django_assert_num_queries(9):
        assert client.get(reverse("class_model", args=[section.pk])).status_code == 200


def test_text_from_students_and_authors_is_escaped_on_the_items_page(klass, client):
    section, skills, _, teacher = klass
    item = ItemFactory(skill=skills[0], course=section.course, prompt="Is <i>x</i> < 3?")
    for i in range(2):
        _answers(_student(section, f"S{i}"), section, item, [False], answers=["<script>alert(1)</script>"], key=f"x{i}")
    client.force_login(teacher)
    html = client.get(reverse("class_items", args=[section.pk])).content.decode()
    assert "<script>alert(1)</script>" not in html and "<i>x</i>" not in html
    assert "<code>&lt;script&gt;alert(1)&lt;/script&gt;</code>: 2 times" in html
    assert "Is &lt;i&gt;x&lt;/i&gt; &lt; 3?" in html


def test_the_student_page_says_when_an_estimate_is_the_models(trained, client):
    section, items, teacher, students, version = trained
    adapted, other = students[0], students[1]
    lm_services.student_state_refresh(student_id=adapted.pk, version=version)
    client.force_login(teacher)
    html = client.get(reverse("class_student", args=[section.pk, adapted.pk])).content.decode()
    assert "the learner model&#x27;s prediction from everything it has seen of this student" in html
    assert f"The learner model (version {version.pk}) is active" in html
    html = client.get(reverse("class_student", args=[section.pk, other.pk])).content.decode()
    assert "the scheduler&#x27;s estimate from the 12 answers in this class" in html  # no state stored for them yet


def test_a_student_with_no_answers_yet_has_a_page_that_says_so(klass, client):
    section, _, items, teacher = klass
    fresh = _student(section, "Fresh")
    _answers(_student(section, "Busy"), section, items[0], [True], key="busy")  # the class is active
    client.force_login(teacher)
    response = client.get(reverse("class_student", args=[section.pk, fresh.pk]))
    html = response.content.decode()
    assert response.status_code == 200 and response.context["page"].n_answers == 0
    assert "Inactive: has not answered anything in this class yet, while 1 of the other 1 students answered" in html
    assert html.count("No answers in this class yet.") == 2  # learning curves and the answers table
    assert "No sessions in this class yet." in html


@pytest.mark.parametrize("extra", [0, 6])
def test_with_a_model_the_student_page_queries_do_not_grow_either(extra, trained, client, django_assert_num_queries):
    section, items, teacher, students, version = trained
    for i in range(extra):
        _answers(_student(section, f"Late{i}"), section, items[1], [True, False], key=f"late{i}")
        _answers(students[0], section, items[i % 2], [True], key=f"more{i}")
    lm_services.student_state_refresh(student_id=students[0].pk, version=version)
    client.force_login(teacher)
    # as without a model, the student's stored state under the active model, for what the model believes about
    # them the active version and that state once more (through the learner-model app), and the class to
    # compare the student with (flags): 3
    with django_assert_num_queries(22):
        assert client.get(reverse("class_student", args=[section.pk, students[0].pk])).status_code == 200


def test_the_student_page_says_what_the_model_believes_in_words_and_figures(trained, client):
    section, items, teacher, students, version = trained
    student = students[0]
    client.force_login(teacher)
    response = client.get(reverse("class_student", args=[section.pk, student.pk]))
    beliefs = response.context["page"].beliefs
    html = response.content.decode()
    assert f"What the learner model believes about {response.context['page'].name}" in html
    # the model's own figures for this student's practised skills (Elo: one model, no clock)
    model = loader.load_model(version)
    state = lm_services.student_state_refresh(student_id=student.pk, version=version)
    skills = [b.skill.pk for b in beliefs.skills]
    assert skills == [items[0].skill_id]  # student 0 practised only the first item's skill
    want = model.predict(loader.state_unpacked(state.state), skills)
    assert beliefs.skills[0].p == pytest.approx(float(want[0]), abs=1e-6)
    assert f'<td class="num">{percent(beliefs.skills[0].p)}</td>' in html
    assert beliefs.skills[0].spread is None and beliefs.skills[0].forgetting_words == "not estimated"
    assert beliefs.skills[0].speed is not None and beliefs.ability_words in html


def test_without_a_model_the_student_page_has_no_beliefs(klass, client):
    section, items, teacher = klass[0], klass[2], klass[3]
    student = _student(section, "Nomodel")
    _answers(student, section, items[0], [True, False, True])
    client.force_login(teacher)
    response = client.get(reverse("class_student", args=[section.pk, student.pk]))
    assert response.context["page"].beliefs is None
    assert "What the learner model believes" not in response.content.decode()
