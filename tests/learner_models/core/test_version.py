"""The code version that keys training requests changes with the model code, and only with it."""

from __future__ import annotations

from pathlib import Path

from learner_models.core.version import code_version, source_hash


def test_the_hash_changes_when_a_source_file_changes_and_not_otherwise(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text("X = 1\n")
    (tmp_path / "notes.txt").write_text("not code")
    before = source_hash(tmp_path)
    assert source_hash(tmp_path) == before
    (tmp_path / "notes.txt").write_text("still not code")
    assert source_hash(tmp_path) == before
    (tmp_path / "model.py").write_text("X = 2\n")
    assert source_hash(tmp_path) != before


def test_a_renamed_file_is_a_new_version(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("X = 1\n")
    before = source_hash(tmp_path)
    (tmp_path / "a.py").rename(tmp_path / "b.py")
    assert source_hash(tmp_path) != before


def test_the_deployed_core_has_a_version() -> None:
    assert len(code_version()) == 12 and code_version() == code_version()
