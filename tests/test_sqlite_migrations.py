"""The migrations run on a fresh SQLite database, the one `make demo` uses, and leave the tally triggers working.

The suite itself runs on PostgreSQL in CI. SQLite rebuilds a table to add a NOT NULL column, and a rebuild of a
table the tally triggers read (tutor_practicesession) fails; this caught one such migration before it landed.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_migrations_run_on_a_fresh_sqlite_database_and_keep_the_tally_triggers(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CI"}}
    env["METIS_VAR_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (database,) = tmp_path.glob("*.sqlite3")
    with sqlite3.connect(database) as db:
        triggers = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        columns = {row[1] for row in db.execute("PRAGMA table_info(tutor_practicesession)")}
    assert {"tutor_attempt_skilltally_insert", "tutor_attempt_skilltally_delete"} <= triggers
    assert any(name.startswith("tutor_attempt_daytally") for name in triggers)
    assert "scheduling_rule" in columns
