"""After a load run: per request type figures from locust's CSV, and every acknowledged answer looked up in
the database. Exits 1 when a target is missed (docs/operations.md, "Load test")."""

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stats", type=Path, required=True, help="locust's <prefix>_stats.csv")
    parser.add_argument("--submits", type=Path, required=True, help="the acknowledged answers, username,key")
    parser.add_argument("--since", required=True, help="when the run started (ISO 8601): older answers are not its own")
    args = parser.parse_args()

    rows = [r for r in csv.DictReader(args.stats.open()) if r["Name"] != "Aggregated"]
    missed = []
    print(f"{'request':34} {'count':>7} {'failed':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    for r in sorted(rows, key=lambda r: (r["Name"] not in PRACTICE, r["Name"])):
        p50, p95, p99 = (r[k] if r[k] != "N/A" else "-" for k in ("50%", "95%", "99%"))
        mark = " *" if r["Name"] in PRACTICE else ""
        print(f"{r['Name'] + mark:34} {r['Request Count']:>7} {r['Failure Count']:>7} {p50:>7} {p95:>7} {p99:>7}")
        if r["Name"] in PRACTICE and p95 != "-" and float(p95) >= P95_TARGET_MS:
            missed.append(f"p95 of {r['Name']!r} is {p95} ms (target < {P95_TARGET_MS} ms)")
    print("* practice requests (p95 target applies)")
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
