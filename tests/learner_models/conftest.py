from __future__ import annotations

import pytest

from learner_models import loader
from tutor.demo import demo_seed

# Small enough to train in a couple of seconds on the demo histories, still the real `best` model.
QUICK_BEST = {"epochs": 3, "hidden": 16, "d_model": 16, "head_hidden": 16, "patience": 3}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    loader.clear()
    yield
    loader.clear()


@pytest.fixture
def demo_school(db):
    """The demo school with 29 simulated histories of 20 attempts (580 attempts)."""
    demo_seed(password="pw-for-tests", sessions_per_student=2, items_per_session=10)
