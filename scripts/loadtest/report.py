"""After a load run: per request type figures from locust's CSV, the same for the login ramp and the steady
state apart (from the per-request timings), and every acknowledged answer looked up in the database. Exits 1
when a target is missed (docs/operations.md, "Load test")."""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutor.settings")

import django  # noqa: E402

django.setup()

from django.db.models import Count  # noqa: E402

from tutor.models import Attempt  # noqa: E402

# The practice flow a student waits on; login (a deliberately slow password hash) and teachers' dashboards
# are reported but not held to the target.
PRACTICE = {
    "home",
    "start session",
    "practice page",
    "plan",
    "answer",
    "answer (typed again after 422)",
    "answer (sent twice)",
    "reflection",
    "end session",
}
P95_TARGET_MS = 300


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    return values[max(0, min(len(values) - 1, round(q / 100 * len(values) + 0.5) - 1))]


def _timings(path: Path) -> list[tuple[float, str, float, bool]]:
    """(start time, name, ms, failed) per request, as the locustfile wrote them."""
    rows = []
    for line in path.read_text().splitlines():
        start, rest = line.split(",", 1)
        name, ms, failed = rest.rsplit(",", 2)
        rows.append((float(start), name, float(ms), failed == "1"))
    return rows


def _phase_table(title: str, rows: list[tuple[float, str, float, bool]]) -> dict[str, float]:
    """Print one phase's figures; return each request type's p95."""
    print(title)
    print(f"{'request':34} {'count':>7} {'failed':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    by_name: dict[str, list[tuple[float, bool]]] = {}
    for _, name, ms, failed in rows:
        by_name.setdefault(name, []).append((ms, failed))
    p95s = {}
    for name in sorted(by_name, key=lambda n: (n not in PRACTICE, n)):
        times = sorted(ms for ms, _ in by_name[name])
        p50, p95, p99 = (_percentile(times, q) for q in (50, 95, 99))
        p95s[name] = p95
        mark = " *" if name in PRACTICE else ""
        failed = sum(f for _, f in by_name[name])
        print(f"{name + mark:34} {len(times):>7} {failed:>7} {p50:>7.0f} {p95:>7.0f} {p99:>7.0f}")
    print()
    return p95s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stats", type=Path, required=True, help="locust's <prefix>_stats.csv")
    parser.add_argument("--submits", type=Path, required=True, help="the acknowledged answers, username,key")
    parser.add_argument("--since", required=True, help="when the run started (ISO 8601): older answers are not its own")
    parser.add_argument("--timings", type=Path, help="every request, start_time,name,ms,failed (the locustfile's)")
    args = parser.parse_args()

    rows = [r for r in csv.DictReader(args.stats.open()) if r["Name"] != "Aggregated"]
    missed = []
    steady_p95: dict[str, float] | None = None
    if args.timings and args.timings.exists():
        timings = _timings(args.timings)
        logins = [start + ms / 1000 for start, name, ms, _ in timings if name == "login"]
        if timings and logins:
            # The steady state starts when the last user's login has been answered: from then on no request
            # shares the machine with a password hash of the ramp.
            first, steady_from = min(t[0] for t in timings), max(logins)
            ramp = [t for t in timings if t[0] < steady_from]
            steady = [t for t in timings if t[0] >= steady_from]
            _phase_table(f"login ramp: the first {steady_from - first:.0f} s, until the last login was answered", ramp)
            if steady:
                last = max(t[0] for t in steady)
                steady_p95 = _phase_table(f"steady state: the remaining {last - steady_from:.0f} s", steady)
            else:
                missed.append("no steady state: the run ended before every user had logged in")
                steady_p95 = {}
    print("whole run")
    print(f"{'request':34} {'count':>7} {'failed':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    for r in sorted(rows, key=lambda r: (r["Name"] not in PRACTICE, r["Name"])):
        p50, p95, p99 = (r[k] if r[k] != "N/A" else "-" for k in ("50%", "95%", "99%"))
        mark = " *" if r["Name"] in PRACTICE else ""
        print(f"{r['Name'] + mark:34} {r['Request Count']:>7} {r['Failure Count']:>7} {p50:>7} {p95:>7} {p99:>7}")
        if steady_p95 is None and r["Name"] in PRACTICE and p95 != "-" and float(p95) >= P95_TARGET_MS:
            missed.append(f"p95 of {r['Name']!r} is {p95} ms (target < {P95_TARGET_MS} ms)")
    for name, p95 in (steady_p95 or {}).items():
        if name in PRACTICE and p95 >= P95_TARGET_MS:
            missed.append(f"steady-state p95 of {name!r} is {p95:.0f} ms (target < {P95_TARGET_MS} ms)")
    where = "whole run" if steady_p95 is None else "steady state"
    print(f"* practice requests (p95 target applies, {where})")
    failures = sum(int(r["Failure Count"]) for r in rows)
    requests = sum(int(r["Request Count"]) for r in rows)

    acknowledged = Counter()
    if args.submits.exists():
        for line in args.submits.read_text().splitlines():
            username, key = line.split(",", 1)
            acknowledged[(username, key)] += 1
    stored = Counter(
        {
            (row["student__username"], row["idempotency_key"]): row["n"]
            for row in Attempt.objects.filter(
                student__username__startswith="load-student-", created_at__gte=datetime.fromisoformat(args.since)
            )
            .values("student__username", "idempotency_key")
            .annotate(n=Count("id"))
        }
    )
    lost = [k for k in acknowledged if stored[k] == 0]
    duplicated = [k for k in acknowledged if stored[k] > 1]
    unacknowledged = [k for k in stored if k not in acknowledged]
    print()
    print(f"requests: {requests}, failed: {failures}")
    print(
        f"answers acknowledged: {len(acknowledged)}; "
        f"in the database exactly once: {len(acknowledged) - len(lost) - len(duplicated)}; "
        f"lost: {len(lost)}; duplicated: {len(duplicated)}; stored without an acknowledgement: {len(unacknowledged)}"
    )
    if failures:
        missed.append(f"{failures} failed request(s) (target 0)")
    if lost or duplicated:
        missed.append(
            f"{len(lost)} lost and {len(duplicated)} duplicated answer(s) (target 0): {(lost + duplicated)[:5]}"
        )
    if not acknowledged:
        missed.append("no answer was acknowledged: the run measured nothing")
    for problem in missed:
        print(f"TARGET MISSED: {problem}")
    print("all targets met" if not missed else f"{len(missed)} target(s) missed")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
