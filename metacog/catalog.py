"""The strategy catalog: what each learning strategy is, its evidence, when it is relevant, what the tutor does.

Pure data, no Django. ``relevance`` weights are over the context features of ``metacog.context`` and
serve two purposes: the expert fallback prior of the policy (used before a population prior has been
fitted) and picking which signal a suggestion's reason cites.

Evidence: Dunlosky, Rawson, Marsh, Nathan & Willingham (2013), "Improving students' learning with
effective learning techniques", Psychological Science in the Public Interest 14(1), utility ratings
high / moderate / low; other sources named per entry.
"""

from __future__ import annotations

from dataclasses import dataclass

# What accepting a strategy changes in the practice flow (see docs/metacognition.md).
ACTION_RECALL_FIRST = "recall_first"  # hints hidden until the item is answered
ACTION_SCHEDULE_REVIEW = "schedule_review"  # a ScheduledReview of the weakest skill, due in 2 days
ACTION_MIX_CONFUSABLES = "mix_confusables"  # a ScheduledReview mixing a skill with the ones it is confused with
ACTION_EXPLAIN_BOX = "explain_box"  # an optional "explain" box under the next items, answers stored
ACTION_WORKED_EXAMPLE = "worked_example"  # a solved item of the same skill shown above the next items
ACTION_CALIBRATION_FEEDBACK = "calibration_feedback"  # running confidence-vs-accuracy after each answer
ACTION_CHECK_STEP = "check_step"  # a required "I re-read and checked" step before submitting
ACTION_HINT_NUDGE = "hint_nudge"  # after two errors in a row, a nudge to open a hint / the solution
ACTION_OPEN_SOLUTION = "open_solution"  # worked solutions open by default after each answer
ACTION_SUMMARY_BOX = "summary_box"  # a one-sentence summary box at the end of the session

UTILITY_BASE = {"high": 0.04, "moderate": 0.025, "low": 0.005, "other": 0.02}


@dataclass(frozen=True)
class Strategy:
    slug: str
    name: str
    description: str  # student-facing: what to do and why
    evidence: str
    utility: str  # high | moderate | low (Dunlosky et al. 2013) or other
    signals: tuple[str, ...]  # plain names of what makes it relevant
    relevance: dict[str, float]  # context feature -> weight (positive: more relevant when feature is high)
    action: str
    action_text: str  # student-facing: what the tutor will do if you accept
    explain_prompt: str = ""  # for ACTION_EXPLAIN_BOX


CATALOG: tuple[Strategy, ...] = (
    Strategy(
        slug="practice_testing",
        name="Practice testing",
        description="Try to recall the method yourself before looking anything up. Retrieving strengthens memory.",
        evidence="Dunlosky et al. 2013: high utility; Roediger & Karpicke 2006.",
        utility="high",
        signals=("many answers after opening hints",),
        relevance={"hint_rate": 0.08},
        action=ACTION_RECALL_FIRST,
        action_text="Hints stay hidden on your next items until you have answered.",
    ),
    Strategy(
        slug="spacing",
        name="Spacing (distributed practice)",
        description="Come back to a skill after a break instead of doing it all at once. You forget less.",
        evidence="Dunlosky et al. 2013: high utility; Cepeda et al. 2006.",
        utility="high",
        signals=("accuracy dropping at the start of a session",),
        relevance={"retention_drop": 0.35},
        action=ACTION_SCHEDULE_REVIEW,
        action_text="We schedule a short review of your weakest skill in two days.",
    ),
    Strategy(
        slug="interleaving",
        name="Interleaving",
        description="Mix similar kinds of problems so you learn to tell which method each one needs.",
        evidence="Dunlosky et al. 2013: moderate utility; Rohrer & Taylor 2007.",
        utility="moderate",
        signals=("fairly high accuracy", "mix-ups between similar skills"),
        relevance={"accuracy": 0.06},
        action=ACTION_MIX_CONFUSABLES,
        action_text="We schedule a mixed review of a skill with the ones it is easily confused with.",
    ),
    Strategy(
        slug="self_explanation",
        name="Self-explanation",
        description="After each step, explain to yourself why it works. It shows you what you have not understood.",
        evidence="Dunlosky et al. 2013: moderate utility; Chi et al. 1994.",
        utility="moderate",
        signals=("wrong answers with high confidence",),
        relevance={"confident_errors": 0.10, "accuracy": -0.03},
        action=ACTION_EXPLAIN_BOX,
        action_text='An "explain why" box appears under your next items.',
        explain_prompt="Explain why your answer is right, in a sentence.",
    ),
    Strategy(
        slug="elaborative_interrogation",
        name="Elaborative interrogation",
        description='Ask yourself "why is this true?" and link it to what you already know.',
        evidence="Dunlosky et al. 2013: moderate utility; Pressley et al. 1987.",
        utility="moderate",
        signals=("solid accuracy, ready to deepen",),
        relevance={"accuracy": 0.05},
        action=ACTION_EXPLAIN_BOX,
        action_text='A "why is this true?" box appears under your next items.',
        explain_prompt="Why is this true? Connect it to something you already know.",
    ),
    Strategy(
        slug="worked_examples",
        name="Worked examples",
        description="Study a fully solved example before trying one yourself. Best while a topic is new.",
        evidence="Sweller & Cooper 1985; Renkl 2014 (worked-example effect, fades with expertise).",
        utility="other",
        signals=("low accuracy on a skill",),
        relevance={"accuracy": -0.12},
        action=ACTION_WORKED_EXAMPLE,
        action_text="A solved example of the same skill is shown above your next items.",
    ),
    Strategy(
        slug="concrete_examples",
        name="Concrete examples",
        description="Make up a concrete example of the idea (numbers, a picture, a real situation).",
        evidence="Weinstein, Madan & Sumeracki 2018 (six strategies for effective learning); Rawson et al. 2015.",
        utility="other",
        signals=("low accuracy on a skill",),
        relevance={"accuracy": -0.05},
        action=ACTION_EXPLAIN_BOX,
        action_text='A "give an example" box appears under your next items.',
        explain_prompt="Give a concrete example of the idea behind this item.",
    ),
    Strategy(
        slug="calibration_check",
        name="Calibration check",
        description="Before answering, ask how sure you really are, then compare with how you did.",
        evidence="Dunlosky & Rawson 2012 (overconfidence ends study too early); Hacker et al. 2008.",
        utility="other",
        signals=("confidence higher than accuracy",),
        relevance={"overconfidence": 0.35},
        action=ACTION_CALIBRATION_FEEDBACK,
        action_text="After each answer you see your confidence next to your accuracy so far.",
    ),
    Strategy(
        slug="slow_down",
        name="Slow down and check",
        description="Re-read the question and check your answer before you submit. Fast mistakes are avoidable.",
        evidence="Error-checking in mathematical problem solving: Schoenfeld 1985; Kahneman 2011 (System 2).",
        utility="other",
        signals=("fast wrong answers",),
        relevance={"fast_errors": 0.30},
        action=ACTION_CHECK_STEP,
        action_text="Before you submit, a short check step asks you to re-read and check your answer.",
    ),
    Strategy(
        slug="help_seeking",
        name="Ask for help after two errors",
        description="Two misses in a row are a signal: open a hint or the solution, or ask your teacher.",
        evidence="Aleven et al. 2003 (help seeking in interactive learning environments); Roll et al. 2011.",
        utility="other",
        signals=("errors in a row without opening a hint",),
        relevance={"error_streaks": 0.30},
        action=ACTION_HINT_NUDGE,
        action_text="After two errors in a row we remind you to open a hint or the worked solution.",
    ),
    Strategy(
        slug="rereading",
        name="Rereading the solution",
        description="Read the worked solution again after each item.",
        evidence="Dunlosky et al. 2013: low utility (kept so students can see its evidence).",
        utility="low",
        signals=("none in particular",),
        relevance={},
        action=ACTION_OPEN_SOLUTION,
        action_text="Worked solutions open by themselves after each answer.",
    ),
    Strategy(
        slug="summarisation",
        name="Summarisation",
        description="At the end, write the main idea of what you practised in one sentence.",
        evidence="Dunlosky et al. 2013: low utility (helps only with training).",
        utility="low",
        signals=("none in particular",),
        relevance={"accuracy": 0.01},
        action=ACTION_SUMMARY_BOX,
        action_text="At the end of your next session a one-sentence summary box appears.",
    ),
)

BY_SLUG: dict[str, Strategy] = {s.slug: s for s in CATALOG}
SLUGS: tuple[str, ...] = tuple(s.slug for s in CATALOG)


def strategy_get(slug: str) -> Strategy:
    try:
        return BY_SLUG[slug]
    except KeyError:
        raise KeyError(f"unknown strategy {slug!r}") from None
