"""python manage.py strategy_benchmark [--students N] [--seeds 0 1] [--structure NAME|all] [--json]"""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metacog.benchmark import POLICIES, TARGET_REGRET_REDUCTION, benchmark_run
from metacog.strategy_sim import STRUCTURES


class Command(BaseCommand):
    help = (
        "Judge strategy suggestions on a delayed post-test in a simulator where the suggested strategy changes "
        "how the student learns: the policy against best-on-average, a flat prior and random, under hidden "
        "effect structures. Progress goes to stderr."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--students", type=int, default=1000, help="evaluated students (default 1000)")
        parser.add_argument("--train-students", type=int, default=None, help="training students (default: same)")
        parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="seeds (default 0 1)")
        parser.add_argument(
            "--structure", default="all", help=f"one of {', '.join(STRUCTURES)}, or 'all' (default all)"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")

    def handle(self, *args, **opts) -> None:
        names = list(STRUCTURES) if opts["structure"] == "all" else [opts["structure"]]
        for name in names:
            if name not in STRUCTURES:
                raise CommandError(f"--structure: unknown structure {name!r}; choose from {', '.join(STRUCTURES)}")
        if opts["students"] < 2:
            raise CommandError("--students must be at least 2")
        if opts["train_students"] is not None and opts["train_students"] < 4:
            raise CommandError("--train-students must be at least 4")
        if any(s < 0 for s in opts["seeds"]):
            raise CommandError("--seeds must be 0 or more")

        def progress(msg: str) -> None:
            print(f"[strategy_benchmark] {msg}", file=sys.stderr, flush=True)

        results = [
            benchmark_run(
                structure=name,
                n_students=opts["students"],
                n_train=opts["train_students"],
                seed=seed,
                progress=progress,
            )
            for seed in opts["seeds"]
            for name in names
        ]
        if opts["json"]:
            self.stdout.write(json.dumps({"runs": results}, indent=2))
            return
        self.stdout.write(self._table(results))

    def _table(self, results: list[dict]) -> str:
        first = results[0]
        lines = [
            f"Delayed post-test gain over no strategy (points, a week after {first['steps']} suggestions), "
            f"mean [paired 95 % CI]; {first['students']} evaluated students, prior and best-on-average from "
            f"{first['train_students']} other students; guard z = {first['guard_z']}",
            "",
            "| structure | seed | best on average | "
            + " | ".join(POLICIES)
            + " | policy vs best-on-average | regret reduction vs flat | targets |",
            "|---" * (6 + len(POLICIES)) + "|",
        ]
        for res in results:
            cells = [
                f"{res['policies'][p]['gain']:.2f} [{res['policies'][p]['gain_ci'][0]:.2f}, "
                f"{res['policies'][p]['gain_ci'][1]:.2f}]"
                for p in POLICIES
            ]
            t = res["targets"]
            lines.append(
                f"| {res['structure']} | {res['seed']} | {res['best_on_average_strategy']} | "
                + " | ".join(cells)
                + f" | {100 * t['gain_vs_best_on_average']:+.1f} % [{100 * t['gain_vs_best_on_average_ci'][0]:+.1f}, "
                f"{100 * t['gain_vs_best_on_average_ci'][1]:+.1f}]"
                f" | {100 * t['regret_reduction_vs_flat']:.1f} % [{100 * t['regret_reduction_vs_flat_ci'][0]:.1f}, "
                f"{100 * t['regret_reduction_vs_flat_ci'][1]:.1f}]"
                f" | {'met' if t['met'] else 'missed: ' + ', '.join(k for k, v in t['checks'].items() if not v)} |"
            )
        total = sum(r["wall_seconds"] for r in results)
        lines += [
            "",
            "Targets: policy never below best-on-average by more than 2 %, at least +10 % above it where "
            f"moderation exists, at least {100 * TARGET_REGRET_REDUCTION:.0f} % less regret than the flat prior "
            "(regret: each student's best single strategy in hindsight minus the policy's gain).",
            f"({total:.0f} s)",
        ]
        return "\n".join(lines) + "\n"
