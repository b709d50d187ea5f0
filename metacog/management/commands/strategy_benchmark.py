"""python manage.py strategy_benchmark --students N --seed S [--setting NAME|all] [--json]"""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metacog.benchmark import CHECKPOINTS, POLICIES, benchmark_run
from metacog.strategy_sim import STRATEGY_SETTINGS


class Command(BaseCommand):
    help = (
        "Compare the meta-learned suggestion policy with a flat prior, best-on-average and random in the "
        "student simulator; the prior is fitted on separate training students. Progress goes to stderr."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--students", type=int, default=1000, help="evaluated students (default 1000)")
        parser.add_argument("--train-students", type=int, default=None, help="training students (default: same)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--setting", default="maths", help=f"one of {', '.join(STRATEGY_SETTINGS)}, or 'all' (default maths)"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")

    def handle(self, *args, **opts) -> None:
        names = list(STRATEGY_SETTINGS) if opts["setting"] == "all" else [opts["setting"]]
        for name in names:
            if name not in STRATEGY_SETTINGS:
                raise CommandError(f"--setting: unknown setting {name!r}; choose from {', '.join(STRATEGY_SETTINGS)}")
        if opts["students"] < 2:
            raise CommandError("--students must be at least 2")
        if opts["train_students"] is not None and opts["train_students"] < 4:
            raise CommandError("--train-students must be at least 4")

        def progress(msg: str) -> None:
            print(f"[strategy_benchmark] {msg}", file=sys.stderr, flush=True)

        results = {}
        for name in names:
            progress(f"setting {name}")
            results[name] = benchmark_run(
                setting=name,
                n_students=opts["students"],
                n_train=opts["train_students"],
                seed=opts["seed"],
                progress=progress,
            )
        if opts["json"]:
            payload = results[names[0]] if len(names) == 1 else {"settings": results}
            self.stdout.write(json.dumps(payload, indent=2))
            return
        for res in results.values():
            self.stdout.write(self._table(res))

    def _table(self, res: dict) -> str:
        lines = [
            "",
            f"setting {res['setting']}: {res['description']}",
            f"{res['students']} evaluated students, prior fitted on {res['train_students']} other students, "
            f"seed {res['seed']}; mean [95 % CI] of cumulative expected reward / regret",
            "",
            "| policy | "
            + " | ".join(f"reward@{c}" for c in CHECKPOINTS)
            + " | "
            + " | ".join(f"regret@{c}" for c in CHECKPOINTS)
            + " |",
            "|---" * (1 + 2 * len(CHECKPOINTS)) + "|",
        ]
        for p in POLICIES:
            row = res["policies"][p]
            cells = [
                f"{row[f'{m}_at_{c}']:.3f} [{row[f'{m}_at_{c}_ci'][0]:.3f}, {row[f'{m}_at_{c}_ci'][1]:.3f}]"
                for m in ("reward", "regret")
                for c in CHECKPOINTS
            ]
            lines.append(f"| {p} | " + " | ".join(cells) + " |")
        t = res["targets"]
        lines += [
            "",
            f"oracle (best strategy for each student, each time) reward@20: {res['oracle_reward_at_20']:.3f}; "
            f"best on average (from training students): {res['best_on_average_strategy']}; "
            f"meta-learned exploration temperature {res['prior']['temperature']}",
            f"regret reduction vs flat prior @10: {100 * t['regret_reduction_vs_flat_at_10']:.1f} % "
            f"[{100 * t['regret_reduction_vs_flat_at_10_ci'][0]:.1f}, "
            f"{100 * t['regret_reduction_vs_flat_at_10_ci'][1]:.1f}] (target ≥ 30 %)",
            f"reward gain vs best-on-average @20: {100 * t['reward_gain_vs_best_on_average_at_20']:.1f} % "
            f"[{100 * t['reward_gain_vs_best_on_average_at_20_ci'][0]:.1f}, "
            f"{100 * t['reward_gain_vs_best_on_average_at_20_ci'][1]:.1f}] (target ≥ 20 %)",
            f"(stronger baseline) regret reduction vs flat prior with tuned exploration @10: "
            f"{100 * t['regret_reduction_vs_flat_tuned_at_10']:.1f} %",
            f"targets met: {'yes' if t['met'] else 'NO'}   ({res['wall_seconds']:.1f} s)",
        ]
        return "\n".join(lines)
