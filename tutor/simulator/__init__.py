"""The student simulator: a library (no Django) for the scheduler benchmark, the demo and other benchmarks.

``model`` holds the simulated students (step API: ``present`` an item, ``advance`` time);
``actr`` is a second student model from the literature (Pavlik & Anderson's ACT-R memory with
confusion between similar skills), with the same step API; ``bench`` runs scheduling policies on a
population of either and re-creates classic experiments.
"""

from .model import SETTINGS, Response, SimSetting, SimSkill, SimulatedStudent, StudentTraits, population, traits_sample

__all__ = [
    "SETTINGS",
    "Response",
    "SimSetting",
    "SimSkill",
    "SimulatedStudent",
    "StudentTraits",
    "population",
    "traits_sample",
]
