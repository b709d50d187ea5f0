"""`manage.py demo_run` (the last step of `make demo`) serves the site and a real worker; Ctrl-C stops both."""

from __future__ import annotations

import json
import re
import signal
import socket
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.processes import ChildProcess, child_env

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _live_members(pgid: int) -> list[int]:
    """Processes of the group that still run (zombies awaiting their reaper count as gone)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            members.append(int(stat.parent.name))
    return members


def _health(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return json.load(response)
    except OSError:
        return None


def test_demo_run_serves_and_ctrl_c_stops_web_and_worker():
    port = _free_port()
    demo = ChildProcess([sys.executable, "manage.py", "demo_run", "--port", str(port), "-v", "2"], child_env())
    children: list[int] = []
    try:
        demo.wait_for("ready.", timeout=90)  # the Celery worker
        deadline = time.monotonic() + 60
        while (body := _health(port)) is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert body is not None and body["status"] == "ok", demo.output
        assert f"http://127.0.0.1:{port}/" in demo.output and "demo-student-30" in demo.output
        assert "password" in demo.output

        demo.signal_group(signal.SIGINT)  # Ctrl-C: the terminal signals the demo's process group
        assert demo.proc.wait(timeout=60) == 0
        children = [int(p) for p in re.findall(r"^demo-child-pid (\d+)$", demo.output, flags=re.M)]
        assert len(children) == 2
        deadline = time.monotonic() + 20
        while any(_live_members(pgid) for pgid in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [_live_members(pgid) for pgid in children] == [[], []], "part of the demo is still running"
    finally:
        for pgid in (demo.proc.pid, *children):
            for pid in _live_members(pgid):
                ChildProcess.kill_pid(pid)
