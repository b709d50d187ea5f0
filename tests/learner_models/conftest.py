"""Fixtures for the Django side of learner_models. The core tests beside them run without Django,
so nothing here imports Django code at load time and no fixture is autouse."""

from __future__ import annotations

import pytest

# Small enough to train in a couple of seconds on the demo histories, still the real `best` model.
QUICK_BEST = {"n_models": 1, "epochs": 3, "hidden": 16, "d_model": 16, "head_hidden": 16, "patience": 3}


@pytest.fixture
def isolated_media(settings, tmp_path):
    """Checkpoints go to a fresh folder and no model stays cached between tests."""
    from learner_models import loader

    settings.MEDIA_ROOT = tmp_path / "media"
    loader.clear()
    yield
    loader.clear()


@pytest.fixture
def demo_school(db, isolated_media):
    """The demo school with 29 simulated histories of 20 attempts (580 attempts)."""
    from tutor.demo import demo_seed

    demo_seed(password="pw-for-tests", sessions_per_student=2, items_per_session=10)
