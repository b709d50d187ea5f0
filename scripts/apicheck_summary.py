"""The table of a ``make apicheck`` run, from schemathesis's NDJSON events: per operation, the cases each phase
generated and how many failed a check. With ``--min-cases N``, an operation with fewer than N cases is flagged and
the exit status is 1 (so is any failed case).

Usage: python scripts/apicheck_summary.py [--min-cases N] [var/apicheck/events.ndjson]"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default="var/apicheck/events.ndjson")
    parser.add_argument("--min-cases", type=int, default=0, help="flag operations with fewer generated cases")
    args = parser.parse_args(argv)
    cases: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    failed: dict[str, int] = defaultdict(int)
    with open(args.path, encoding="utf-8") as events:
        for line in events:
            event = json.loads(line).get("ScenarioFinished")
            if not event or "recorder" not in event:
                continue
            recorder = event["recorder"]
            label = recorder["label"]
            cases[label][event["phase"]] += len(recorder.get("cases", {}))
            failed[label] += sum(
                any(c["status"] == "failure" for c in checks) for checks in recorder.get("checks", {}).values()
            )
    if not cases:
        print("no scenarios in the report")
        return 1
    width = max(len(label) for label in cases)
    print(f"{'operation':<{width}}  coverage  fuzzing  total  failed")
    short = []
    for label in sorted(cases, key=lambda op: (op.split(" ", 1)[1], op)):
        c = cases[label]
        total = sum(c.values())
        flag = ""
        if total < args.min_cases:
            short.append(label)
            flag = f"  < {args.min_cases} cases"
        print(f"{label:<{width}}  {c['coverage']:>8}  {c['fuzzing']:>7}  {total:>5}  {failed[label]:>6}{flag}")
    totals = [sum(c.values()) for c in cases.values()]
    fuzzed = [c["fuzzing"] for c in cases.values()]
    print(
        f"{len(cases)} operations, {sum(totals)} cases (per operation: at least {min(totals)}; fuzzing at least "
        f"{min(fuzzed)}), {sum(failed.values())} failed"
    )
    if short:
        print(f"{len(short)} operation(s) under {args.min_cases} cases: {', '.join(short)}")
    return 1 if short or sum(failed.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
