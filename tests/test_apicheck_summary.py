"""scripts/apicheck_summary.py: the per-operation table of a ``make apicheck`` run, and the exit status that makes
an operation with too few cases (or a failed case) fail the run."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "apicheck_summary.py"
spec = importlib.util.spec_from_file_location("apicheck_summary", SCRIPT)
assert spec and spec.loader
summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(summary)


def _scenario(label: str, phase: str, n: int, *, failures: int = 0) -> str:
    checks = {f"c{i}": [{"status": "failure" if i < failures else "success"}] for i in range(n)}
    recorder = {"label": label, "cases": {f"c{i}": {} for i in range(n)}, "checks": checks}
    return json.dumps({"ScenarioFinished": {"phase": phase, "recorder": recorder}})


def _report(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join([json.dumps({"LoadingFinished": {}}), *lines]) + "\n")
    return str(path)


def test_every_operation_at_the_minimum_passes(tmp_path, capsys):
    path = _report(
        tmp_path,
        _scenario("GET /api/v1/x/", "coverage", 20),
        _scenario("GET /api/v1/x/", "fuzzing", 100),
        _scenario("DELETE /api/v1/x/{id}/", "fuzzing", 100),
    )
    assert summary.main(["--min-cases", "100", path]) == 0
    out = capsys.readouterr().out
    assert "2 operations, 220 cases (per operation: at least 100; fuzzing at least 100), 0 failed" in out
    assert "under" not in out


def test_an_operation_under_the_minimum_is_named_and_fails(tmp_path, capsys):
    path = _report(
        tmp_path,
        _scenario("GET /api/v1/x/", "fuzzing", 100),
        _scenario("DELETE /api/v1/x/{id}/", "coverage", 14),
        _scenario("DELETE /api/v1/x/{id}/", "fuzzing", 13),
    )
    assert summary.main(["--min-cases", "100", path]) == 1
    out = capsys.readouterr().out
    assert re.search(r"DELETE /api/v1/x/{id}/ +14 +13 +27 +0  < 100 cases", out)
    assert "1 operation(s) under 100 cases: DELETE /api/v1/x/{id}/" in out
    assert summary.main([path]) == 0  # no minimum asked for


def test_a_failed_case_fails(tmp_path, capsys):
    path = _report(tmp_path, _scenario("GET /api/v1/x/", "fuzzing", 100, failures=2))
    assert summary.main(["--min-cases", "100", path]) == 1
    assert "2 failed" in capsys.readouterr().out
