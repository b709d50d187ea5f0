"""The practice domain: people, classes, content and what students do with it.

Organisation is the data boundary: every class belongs to one, and every
student/teacher belongs to one. Who may see what is decided in ``tutor.access``.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

# The confidence scale students rate before answering, stored as the probability of being right.
CONFIDENCE_SCALE = [(0.25, "Guessing"), (0.5, "Unsure"), (0.75, "Fairly sure"), (1.0, "Certain")]

ITEM_TYPE_CHOICES = [
    ("multiple_choice", "Multiple choice"),
    ("numeric", "Numeric"),
    ("fraction", "Fraction"),
    ("expression", "Algebraic expression"),
    ("text", "Short text"),
]


class Organisation(models.Model):
    """A school or district: the boundary for data access and LMS integrations."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    class Role(models.TextChoices):
        STUDENT = "student", "Student"
        TEACHER = "teacher", "Teacher"
        ADMIN = "admin", "Admin"

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STUDENT)
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )
    # Identifier the student has in an LMS (LTI "sub" / roster id), unique per organisation.
    external_id = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "external_id"],
                condition=~Q(external_id=""),
                name="user_external_id_unique_per_org",
            )
        ]

    def clean(self) -> None:
        """A person in a class stays in its organisation: moving them out first needs them out of the class."""
        super().clean()
        if self.pk is None:
            return
        classes = Section.objects.filter(Q(enrollments__student=self) | Q(teachers=self))
        if self.organisation_id is not None:
            classes = classes.exclude(organisation_id=self.organisation_id)
        elsewhere = classes.select_related("organisation").first()
        if elsewhere is not None:
            raise ValidationError({"organisation": organisation_mismatch(self, elsewhere)})

    @property
    def is_student(self) -> bool:
        return self.role == self.Role.STUDENT

    @property
    def is_teacher(self) -> bool:
        return self.role == self.Role.TEACHER


class Course(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return self.title


class Skill(models.Model):
    """A knowledge component of a course."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="skills")
    slug = models.SlugField(max_length=100)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    prerequisites = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="unlocks")
    # Similar skills students mix up; the scheduler interleaves them on purpose.
    confusable_with = models.ManyToManyField("self", symmetrical=True, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["course", "position", "slug"]
        constraints = [models.UniqueConstraint(fields=["course", "slug"], name="skill_slug_unique_per_course")]

    def __str__(self) -> str:
        return self.name


class Item(models.Model):
    class Source(models.TextChoices):
        AUTHORED = "authored", "Authored"
        GENERATED = "generated", "Generated"

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="items")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="items")
    slug = models.SlugField(max_length=120)
    item_type = models.CharField(max_length=20, choices=ITEM_TYPE_CHOICES)
    prompt = models.TextField()
    answer = models.JSONField(help_text="Type-specific answer spec; see docs/content-format.md")
    hints = models.JSONField(default=list, blank=True)
    solution = models.TextField(blank=True, default="")
    difficulty = models.FloatField(default=0.5)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.AUTHORED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["course", "slug"], name="item_slug_unique_per_course")]

    def __str__(self) -> str:
        return self.slug


class SchedulingRule(models.TextChoices):
    """How a class's next exercise is chosen (``tutor.policies``; docs/scheduler.md, "Choosing the rule per class")."""

    ADAPTIVE = "adaptive", "Adaptive: the skill each student most needs now (the default)"
    SPREAD = "spread", "Spread: every skill once a round, skills students confuse side by side"
    ROUND_ROBIN = "round_robin+target", "In turn: every skill once a round, in course order"
    SHUFFLED = (
        "shuffled_round_robin+target",
        "Shuffled: every skill once a round, in a new random order each round",
    )
    PAIRS = "round_robin_pairs+target", "In pairs: every skill twice in a row, in course order"


class Section(models.Model):
    """A class: one organisation, one course, its teachers and enrolled students."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="sections")
    name = models.CharField(max_length=200)
    # The class's id in the school's roster (OneRoster sourcedId), unique per organisation; re-imports match on it.
    external_id = models.CharField(max_length=255, blank=True, default="")
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="sections")
    teachers = models.ManyToManyField(User, blank=True, related_name="teaching_sections")
    students: models.ManyToManyField[User, Enrollment] = models.ManyToManyField(
        User, through="Enrollment", related_name="enrolled_sections"
    )
    session_length = models.PositiveSmallIntegerField(default=10, help_text="Items per practice session")
    # Scheduler settings a teacher may set per class (see tutor.policies.PolicySettings).
    target_success = models.FloatField(
        default=0.7,
        validators=[MinValueValidator(0.5), MaxValueValidator(0.95)],
        help_text="Desirable difficulty: the chance of success items are aimed at (0.5-0.95)",
    )
    review_weight = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(3.0)],
        help_text="How strongly fading skills are brought back for review (0 = never favour reviews, 1 = default)",
    )
    skills_in_play = models.ManyToManyField(
        Skill,
        blank=True,
        related_name="+",
        help_text="Skills the scheduler may choose from; none selected means every skill of the course",
    )
    scheduling_rule = models.CharField(
        max_length=40,
        choices=SchedulingRule.choices,
        default=SchedulingRule.ADAPTIVE,
        help_text="How the next exercise is chosen; a change applies from each student's next session",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when a teacher archives the class: it leaves their home list, its data stays (unarchive to bring it back).
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "class"
        verbose_name_plural = "classes"
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="section_name_unique_per_org"),
            models.UniqueConstraint(
                fields=["organisation", "external_id"],
                condition=~Q(external_id=""),
                name="section_external_id_unique_per_org",
            ),
            models.CheckConstraint(
                condition=Q(target_success__gte=0.5) & Q(target_success__lte=0.95), name="section_target_success_range"
            ),
            models.CheckConstraint(
                condition=Q(review_weight__gte=0) & Q(review_weight__lte=3), name="section_review_weight_range"
            ),
            models.CheckConstraint(
                condition=Q(scheduling_rule__in=SchedulingRule.values), name="section_scheduling_rule_known"
            ),
        ]

    def __str__(self) -> str:
        return self.name


def organisation_mismatch(person: User, section: Section) -> str | None:
    """Why ``person`` may not be a student or teacher of ``section``, or None: a class takes people of its
    own organisation only (the admin, the enrolment services and ``Enrollment.clean`` all ask here)."""
    if person.organisation_id is not None and person.organisation_id == section.organisation_id:
        return None
    theirs = person.organisation.name if person.organisation else "no organisation"
    return (
        f"{person.username} belongs to {theirs} and {section.name} to {section.organisation.name}: "
        "a class takes people of its own organisation only."
    )


class Enrollment(models.Model):
    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="enrollments")
    student = models.ForeignKey(User, on_delete=models.CASCADE, related_name="enrollments")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["section", "student"], name="enrollment_unique")]

    def __str__(self) -> str:
        return f"{self.student} in {self.section}"

    def clean(self) -> None:
        try:  # the class may be unsaved yet (the admin's add page), so not ``section_id``
            section, student = self.section, self.student
        except ObjectDoesNotExist:
            return  # the missing field reports itself
        problem = organisation_mismatch(student, section)
        if problem:
            raise ValidationError({"student": problem})


class PracticeSession(models.Model):
    student = models.ForeignKey(User, on_delete=models.CASCADE, related_name="practice_sessions")
    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="practice_sessions")
    planned_items = models.PositiveSmallIntegerField(default=10)
    # The class's rule when the session started (``services.session_start`` copies it): it chooses every item of
    # the session, and tells which answers were practised in a shuffled order (what ``services.contrasts_learn``
    # reads). None is adaptive: sessions from before a rule could be chosen were all adaptive. Nullable without a
    # default so that adding it is a plain ALTER TABLE on SQLite: rebuilding the table would break the tally
    # triggers on tutor_attempt, which read tutor_practicesession.
    scheduling_rule = models.CharField(max_length=40, choices=SchedulingRule.choices, null=True, blank=True)  # noqa: DJ001
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["student", "-started_at"])]

    def __str__(self) -> str:
        return f"session {self.pk} of {self.student}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


class SessionItem(models.Model):
    """One item shown to a student in a session: when, why, and how many hints they opened."""

    session = models.ForeignKey(PracticeSession, on_delete=models.CASCADE, related_name="session_items")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField()
    served_at = models.DateTimeField()
    hints_shown = models.PositiveSmallIntegerField(default=0)
    reason = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["session", "position"]
        constraints = [models.UniqueConstraint(fields=["session", "position"], name="session_item_position_unique")]

    def __str__(self) -> str:
        return f"item {self.position} of session {self.session_id}"


class Attempt(models.Model):
    """A graded answer. ``(student, idempotency_key)`` is unique, so a double submit records one attempt."""

    student = models.ForeignKey(User, on_delete=models.CASCADE, related_name="attempts")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="attempts")
    skill = models.ForeignKey(Skill, on_delete=models.PROTECT, related_name="attempts")
    session = models.ForeignKey(
        PracticeSession, null=True, blank=True, on_delete=models.CASCADE, related_name="attempts"
    )
    session_item = models.OneToOneField(
        SessionItem, null=True, blank=True, on_delete=models.CASCADE, related_name="attempt"
    )
    # What the student answered, as shown back to them: for multiple choice the option's text, never its position.
    answer = models.CharField(max_length=500)
    normalized_answer = models.CharField(max_length=500, blank=True, default="")
    correct = models.BooleanField()
    # The checker's explanation, as the student was shown it ("Equivalent, but the brackets are not expanded.").
    feedback = models.CharField(max_length=300, blank=True, default="")
    confidence = models.FloatField(help_text="Student's probability of being right, 0-1, given before answering")
    response_time_ms = models.PositiveIntegerField(null=True, blank=True)
    hints_used = models.PositiveSmallIntegerField(default=0)
    idempotency_key = models.CharField(max_length=64)
    served_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["student", "idempotency_key"], name="attempt_idempotency_unique"),
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1), name="attempt_confidence_probability"
            ),
        ]
        indexes = [
            # id too: a student's latest answers in (created_at, id) order straight from the index
            # (the class overview's recent answers, a LIMIT per student)
            models.Index(fields=["student", "created_at", "id"], name="attempt_student_recent"),
            models.Index(fields=["skill", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.student} {self.item} {'✓' if self.correct else '✗'}"


class LearnedContrasts(models.Model):
    """Which pairs of a course's skills students confuse, learned from the answers of classes on the shuffled rule.

    ``weights`` is a list of ``[skill id, skill id, weight]`` (``scheduling_api.learn_contrast_weights``): the
    ``spread`` rule sets a pair side by side about ``weight`` times as often as an average pair. An aggregate
    over many students, like a meta-trained learner model; it holds no one's answers. Relearned by
    ``manage.py contrasts_learn`` and nightly by Celery beat.
    """

    course = models.OneToOneField(Course, on_delete=models.CASCADE, related_name="learned_contrasts")
    weights = models.JSONField(default=list)
    students = models.PositiveIntegerField(help_text="students whose answers it was learned from")
    answers = models.PositiveIntegerField(help_text="answers it was learned from")
    learned_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "learned contrasts"

    def __str__(self) -> str:
        return f"contrasts of {self.course} from {self.students} students"


class SkillTally(models.Model):
    """Running totals of one student's answers on one skill in one class, for the teacher's overview.

    Kept by database triggers on ``tutor_attempt`` (migration 0007, docs/decisions/0005-skill-tallies.md), so
    every writer (a service, a bulk insert, a cascade delete) keeps it exact in the attempt's own transaction.
    Answers outside a class (API ingest, ``session`` None) have no tally. ``tallies_rebuild`` recomputes it.
    """

    student = models.ForeignKey(User, on_delete=models.CASCADE, related_name="skill_tallies")
    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="skill_tallies")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="tallies")
    n = models.PositiveIntegerField()
    n_correct = models.PositiveIntegerField()
    n_sure = models.PositiveIntegerField(help_text="answers given with confidence >= 0.75")
    n_sure_wrong = models.PositiveIntegerField()
    confidence_sum = models.FloatField()
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()

    SURE = 0.75  # "Fairly sure" or "Certain" on the confidence scale (the triggers say 0.75 too)

    class Meta:
        # section first: the overview reads one class's students; the student's own FK index serves erasure
        constraints = [models.UniqueConstraint(fields=["section", "student", "skill"], name="skill_tally_unique")]

    def __str__(self) -> str:
        return f"{self.student} on {self.skill}: {self.n_correct}/{self.n}"


class DayTally(models.Model):
    """How many answers one student gave in one class on one day (UTC), for the overview's activity chart.

    Kept by database triggers on ``tutor_attempt`` like ``SkillTally`` (migration 0011,
    docs/decisions/0005-skill-tallies.md); ``tallies_rebuild`` recomputes it. Days are UTC days: the chart
    reads them when the site's local days are UTC days too, and counts the answers otherwise.
    """

    student = models.ForeignKey(User, on_delete=models.CASCADE, related_name="day_tallies")
    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="day_tallies")
    day = models.DateField(help_text="UTC day of the answers")
    n = models.PositiveIntegerField()

    class Meta:
        # section first: the chart reads one class's students over the last days
        constraints = [models.UniqueConstraint(fields=["section", "student", "day"], name="day_tally_unique")]

    def __str__(self) -> str:
        return f"{self.student} on {self.day}: {self.n}"


class ErasureRecord(models.Model):
    """The log of one account's erasure (``tutor.privacy_services.student_erase``), and its tombstone.

    Written first, finished last: an erasure that stopped midway is found here and finished by a second
    run. It keeps the account's internal id (no foreign key, so it outlives the row) and nothing else
    about the person: no name, no username.
    """

    class Reason(models.TextChoices):
        COMMAND = "command", "Command"
        ADMIN = "admin", "Admin"
        RETENTION = "retention", "Retention"
        API = "api", "API"

    user_id = models.BigIntegerField(unique=True, help_text="The erased account's id (its row is gone)")
    role = models.CharField(max_length=16, choices=User.Role.choices)
    reason = models.CharField(max_length=16, choices=Reason.choices, default=Reason.COMMAND)
    requested_by = models.CharField(max_length=150, blank=True, default="", help_text="The operator, if a person")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    deleted = models.JSONField(default=dict, blank=True, help_text="Rows deleted per table, and files")
    # Model versions whose training data held this student's attempts: their weights keep what they learned
    # from them (population-level, no per-student part) until a version trained without them replaces them.
    trained_model_versions = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        state = "finished" if self.finished_at else "unfinished"
        return f"erasure of account {self.user_id} ({state})"


class ApiClient(models.Model):
    """An integration (an LMS, a data pipeline) that calls the REST API for one organisation.

    Its token is ``metis_<key_id>_<secret>``: ``key_id`` finds the row, and only a hash of the secret is
    stored, so the token is shown once, at creation, and a database leak does not leak working tokens.
    """

    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Write"

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="api_clients")
    name = models.CharField(max_length=100)
    key_id = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list, help_text='What the client may do: "read", "write"')
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API client"
        constraints = [models.UniqueConstraint(fields=["organisation", "name"], name="api_client_name_unique_per_org")]

    def __str__(self) -> str:
        return f"{self.name} ({self.organisation})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return self.is_active and scope in self.scopes
