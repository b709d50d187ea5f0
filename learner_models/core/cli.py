"""Command line: `python -m learner_models kt-eval | kt-predict | kt-compare | kt-subset | bench`.

Thin: parse arguments, call the core, print. Progress goes to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pickle
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import numpy as np
import torch

from .base import LearnerModel, resolve_device
from .data import FORMATS, KTFormatError, detect_format, read_predictions, read_sequences, subset_students
from .evaluate import bucket_report, format_comparison, format_report, paired_bootstrap
from .registry import MODEL_NAMES, describe, get_model


def _progress(info: dict) -> None:
    parts = [f"{info.get('stage', '')}", f"epoch {info.get('epoch', '-')}"]
    if "member" in info:
        parts.insert(1, f"member {info['member']}")
    if info.get("loss") is not None:
        parts.append(f"loss {info['loss']:.4f}")
    if info.get("val_auc") is not None and info["val_auc"] == info["val_auc"]:
        parts.append(f"val_auc {info['val_auc']:.4f}")
    parts.append(f"{info.get('percent', 0):5.1f}%")
    print("  " + " | ".join(parts), file=sys.stderr, flush=True)


def _write_atomically(path: Path, write: Callable[[TextIO], object]) -> None:
    """Write through a temporary file in the same folder, then rename: a failed run leaves nothing half-written."""
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_preds(path: Path, preds: list[np.ndarray]) -> None:
    def rows(f: TextIO) -> None:
        w = csv.writer(f)
        w.writerow(["student", "position", "p"])
        for i, p in enumerate(preds):
            for t, v in enumerate(p):
                w.writerow([i, t + 1, f"{float(v):.6f}"])

    _write_atomically(path, rows)


def _folders_missing(**files: str | None) -> bool:
    """Print an error naming the option of the first output file whose folder does not exist.

    Called before any long work (fitting a model or an anchor), so a typo costs nothing.
    """
    for option, f in files.items():
        if f and not Path(f).parent.exists():
            print(
                f"error: --{option.replace('_', '-')}: output folder {Path(f).parent} does not exist", file=sys.stderr
            )
            return True
    return False


def kt_eval(args: argparse.Namespace) -> int:
    try:
        train = read_sequences(args.train, args.format)
        test = read_sequences(args.test, args.format)
    except KTFormatError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        overrides = json.loads(args.config)
        model = get_model(args.model, **overrides)
    except (ValueError, TypeError) as e:
        print(f"error: --config: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    if _folders_missing(out=args.out, save=args.save):
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.time()
    print(
        f"fitting {args.model} on {len(train)} students ({sum(map(len, train))} responses), "
        f"device={args.device}, seed={args.seed}",
        file=sys.stderr,
        flush=True,
    )
    model.fit(train, device=args.device, callbacks=[_progress], seed=args.seed)
    t_fit = time.time() - t0
    preds = model.predict_online(test)
    wall = time.time() - t0
    _write_preds(out, preds)
    if args.save:
        model.save(args.save)
        print(f"checkpoint written to {args.save}", file=sys.stderr)
    rep = bucket_report([s.correct for s in test], preds)
    print(
        f"\n{args.model} {args.config if overrides else ''}: {len(test)} test students, fit {t_fit:.1f}s, fit+predict {wall:.1f}s"
    )
    print(format_report(rep))
    return 0


def kt_predict(args: argparse.Namespace) -> int:
    """Predictions of a saved checkpoint, on any device: the same weights scored on CPU and on CUDA."""
    try:
        test = read_sequences(args.test, args.format)
    except (KTFormatError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    if _folders_missing(out=args.out):
        return 2
    try:
        model = LearnerModel.load(args.checkpoint, device=args.device)
    except (OSError, ValueError, KeyError, RuntimeError, pickle.UnpicklingError) as e:
        print(f"error: --checkpoint: {e}", file=sys.stderr)
        return 2
    if args.without_student_adapter:
        adapter = getattr(model.net, "adapter", None)
        if adapter is None:
            print("error: --without-student-adapter: this checkpoint has no per-student adapter", file=sys.stderr)
            return 2
        adapter.enabled.fill_(0.0)
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.time()
    preds = model.predict_online(test)
    wall = time.time() - t0
    _write_preds(out, preds)
    rep = bucket_report([s.correct for s in test], preds)
    print(f"\n{model.name} from {args.checkpoint} on {model.device}: {len(test)} test students, predict {wall:.1f}s")
    print(format_report(rep))
    return 0


def _referee_anchor(args: argparse.Namespace, test_lengths: list[int]) -> list[np.ndarray]:
    """Predictions of one of the referee script's own anchors (its m_NAME), fitted on --train."""
    import importlib.util

    path = Path(args.referee)
    if not path.is_file():
        raise ValueError(f"--referee: {path} not found")
    if not args.train:
        raise ValueError("--anchor needs --train (the file the anchor is fitted on)")
    for f in (args.train, args.test):
        if (args.format if args.format != "auto" else detect_format(f)) == "long":
            raise ValueError(f"--anchor: the referee reads the three- and four-line formats, not a long CSV ({f})")
    spec = importlib.util.spec_from_file_location("kt_referee", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"--referee: cannot load {path}")
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    fit = getattr(ref, f"m_{args.anchor}", None)
    if fit is None or not hasattr(ref, "load"):
        names = sorted(n[2:] for n in vars(ref) if n.startswith("m_"))
        raise ValueError(f"--anchor: the referee has no anchor {args.anchor!r} (it has {', '.join(names)})")
    train, test = ref.load(args.train), ref.load(args.test)
    if [len(a) for _, a in test] != test_lengths:
        raise ValueError("--referee reads the test file differently from this tool; compare CSVs with --against")
    print(f"fitting the referee's {args.anchor} on {args.train} ...", file=sys.stderr, flush=True)
    return [np.asarray(p, dtype=np.float64) for p in fit(train, test)]


def kt_compare(args: argparse.Namespace) -> int:
    """Two models on one test file: bucket AUCs, A's standard error and A - B with a paired bootstrap."""
    # argument checks first: fitting a referee anchor can take minutes
    if args.boot < 2:
        print("error: --boot must be at least 2", file=sys.stderr)
        return 2
    if _folders_missing(save_anchor=args.save_anchor):
        return 2
    try:
        test = read_sequences(args.test, args.format)
        lengths = [len(s) for s in test]
        a = read_predictions(args.preds, lengths)
        b = read_predictions(args.against, lengths) if args.against else _referee_anchor(args, lengths)
    except (KTFormatError, OSError, ValueError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.save_anchor:
        _write_preds(Path(args.save_anchor), b)

    def progress(done: int, total: int) -> None:
        if done == total or done % max(1, total // 10) == 0:
            print(f"  bootstrap {100 * done / total:3.0f}% ({done}/{total} resamples)", file=sys.stderr, flush=True)

    res = paired_bootstrap(
        [s.correct for s in test], a, b, n_boot=args.boot, seed=args.seed, margin=args.margin, progress=progress
    )
    label_b = args.against or f"referee anchor {args.anchor}"
    if args.json:
        print(json.dumps({"a": args.preds, "b": label_b, "resamples": args.boot, "buckets": res}, indent=1))
    else:
        print(f"\nA = {args.preds}\nB = {label_b}\n{len(test)} test students, {args.boot} paired resamples of them")
        print(format_comparison(res, args.margin))
    return 0


def kt_subset(args: argparse.Namespace) -> int:
    """A random share of a KT file's students (nested across fractions): learning curves, quick experiments."""
    if not 0 < args.fraction <= 1:
        print(f"error: --fraction: must be in (0, 1], got {args.fraction}", file=sys.stderr)
        return 2
    if _folders_missing(out=args.out):
        return 2
    try:
        text, kept, total = subset_students(args.input, args.format, args.fraction, args.seed)
    except (KTFormatError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    _write_atomically(Path(args.out), lambda f: f.write(text))
    print(f"{args.out}: {kept} of {total} students (fraction {args.fraction:g}, seed {args.seed})", file=sys.stderr)
    return 0


def _format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        default="auto",
        choices=FORMATS,
        help="auto (default: from the first line), dkvmn (3 lines a student: count / skill ids / answers), "
        "akt (4 lines a student: row,student / item ids / skill ids / answers) or long (CSV with a header)",
    )


def main(argv: list[str] | None = None) -> int:
    names = "\n".join(f"  {k:10s} {v}" for k, v in describe().items())
    ap = argparse.ArgumentParser(
        prog="python -m learner_models",
        description="Metis learner-model core",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    ev = sub.add_parser(
        "kt-eval",
        help="fit on TRAIN, predict every TEST response from earlier ones",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="models:\n" + names,
    )
    ev.add_argument("--train", required=True)
    ev.add_argument("--test", required=True)
    ev.add_argument(
        "--model",
        default="best",
        choices=MODEL_NAMES,
        metavar="NAME",
        help="one of: " + ", ".join(MODEL_NAMES) + " (default best)",
    )
    ev.add_argument("--out", required=True, help="predictions CSV: student,position,p")
    _format_option(ev)
    ev.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    ev.add_argument(
        "--config",
        default="{}",
        help="JSON object of config overrides (research use; defaults are the ones reported in docs/learner-models.md)",
    )
    ev.add_argument("--save", default=None, metavar="CKPT", help="also write the fitted model's checkpoint here")
    pr = sub.add_parser(
        "kt-predict",
        help="predict every TEST response from earlier ones with a saved checkpoint (no training)",
    )
    pr.add_argument("--checkpoint", required=True, help="a checkpoint written by kt-eval --save or metatrain")
    pr.add_argument("--test", required=True)
    pr.add_argument("--out", required=True, help="predictions CSV: student,position,p")
    _format_option(pr)
    pr.add_argument("--device", default="cpu", help="auto | cpu | cuda[:N]")
    pr.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    pr.add_argument(
        "--without-student-adapter",
        action="store_true",
        help="predict with the per-student fast weights switched off (the same model without them, for kt-compare)",
    )
    cp = sub.add_parser(
        "kt-compare",
        help="two models' predictions on one TEST file: bucket AUCs with a paired student-level bootstrap",
    )
    cp.add_argument("--test", required=True)
    _format_option(cp)
    cp.add_argument("--preds", required=True, help="model A: student,position,p CSV (kt-eval --out)")
    other = cp.add_mutually_exclusive_group(required=True)
    other.add_argument("--against", help="model B: another student,position,p CSV")
    other.add_argument("--anchor", help="model B: the referee's own anchor of this name (dktes, dkt, elo, pfa, ...)")
    cp.add_argument("--referee", default="../shared/eval/kt_coldstart.py", help="referee script for --anchor")
    cp.add_argument("--train", help="TRAIN file the --anchor is fitted on")
    cp.add_argument("--save-anchor", metavar="CSV", help="also write model B's predictions (reuse with --against)")
    cp.add_argument("--boot", type=int, default=1000, help="bootstrap resamples of the test students")
    cp.add_argument("--seed", type=int, default=0)
    cp.add_argument("--margin", type=float, default=0.01, help="report the share of resamples with A - B >= this")
    cp.add_argument("--json", action="store_true")
    su = sub.add_parser(
        "kt-subset",
        help="write a random share of a file's students (nested across fractions of one seed)",
    )
    su.add_argument("--input", required=True, help="a KT file (train or test)")
    su.add_argument("--fraction", type=float, required=True, help="share of the students to keep, in (0, 1]")
    su.add_argument("--out", required=True, help="file to write, in the input's format")
    _format_option(su)
    su.add_argument("--seed", type=int, default=12345, help="shuffle seed (default 12345, as in the docs)")
    be = sub.add_parser("bench", help="adaptation latency, batched speed-up, meta-training time")
    be.add_argument("--json", action="store_true")
    be.add_argument("--train", default=None, help="KT file for the meta-training timing (any format, detected)")
    be.add_argument("--model", default="best", choices=MODEL_NAMES, metavar="NAME")
    be.add_argument("--device", default="cpu")
    be.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    be.add_argument("--threads", type=int, default=0, help="torch CPU threads for meta-training (0 = torch default)")
    be.add_argument(
        "--loop-students",
        type=int,
        default=2000,
        metavar="N",
        help="students the per-student loop is timed on (scaled to the whole population)",
    )
    args = ap.parse_args(argv)
    if getattr(args, "device", None) is not None:
        try:  # a device this machine lacks stops here, before files are read or a model is fitted
            resolve_device(args.device)
        except ValueError as e:
            print(f"error: --device: {e}", file=sys.stderr)
            return 2
    if args.cmd == "kt-eval":
        return kt_eval(args)
    if args.cmd == "kt-predict":
        return kt_predict(args)
    if args.cmd == "kt-compare":
        return kt_compare(args)
    if args.cmd == "kt-subset":
        return kt_subset(args)
    if args.loop_students < 1:
        print(f"error: --loop-students: must be at least 1, got {args.loop_students}", file=sys.stderr)
        return 2
    from .bench import run_bench

    return run_bench(args)
