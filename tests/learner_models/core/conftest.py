"""Fixtures for the learner-model core tests (run with -p no:django)."""

from __future__ import annotations

import pytest
import torch

from tests.learner_models.core.kt_helpers import QUICK, synth


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)
    yield


_FITTED: dict = {}


@pytest.fixture(scope="session")
def data():
    return synth(150, seed=0), synth(60, seed=1)


@pytest.fixture(scope="session")
def fitted(data):
    """name -> model fitted once per test session on the synthetic training students."""
    from learner_models.core import get_model

    def get(name: str):
        if name not in _FITTED:
            torch.set_num_threads(1)
            _FITTED[name] = get_model(name, **QUICK[name]).fit(data[0], seed=0)
        return _FITTED[name]

    return get
