"""`python -m learner_models bench`: the serving and training numbers the product depends on.

- adapt_one_p99_ms: adapt one student's state from 200 responses, one CPU thread (a student with no stored
  state); extend_one_p99_ms: add one new answer to a stored state (the per-answer path where the family can).
- batched_speedup: adapting N students in batched calls vs looping the same adaptation per student
  (the loop is timed on up to 2,000 of them and scaled linearly, to keep the run short), both with
  every CPU thread torch uses (threads_batched); batched_speedup_1thread is the same on one thread.
- metatrain_seconds: fitting the model on a KT training file (default assist2009_updated when present).
Weights do not change the serving timings, so those use a model fitted briefly on synthetic students.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .data import StudentSequence, read_sequences
from .registry import get_model

DEFAULT_TRAIN = Path("/work/shared/data/kt/assist2009_updated_train.csv")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _sync(model) -> None:
    """Wait for queued GPU work, so a CUDA timing covers the kernels and not only their launch."""
    if model.device.type == "cuda":
        torch.cuda.synchronize(model.device)


def _synthetic(n: int, length: int, n_ids: int, seed: int) -> list[StudentSequence]:
    rng = np.random.default_rng(seed)
    return [StudentSequence(rng.integers(0, n_ids, length), rng.integers(0, 2, length)) for _ in range(n)]


def _loop_vs_batched(model, pop: list[StudentSequence], loop_students: int, label: str) -> tuple[float, float]:
    """Seconds to adapt every student of `pop` one call per student (timed on a prefix, scaled) and batched."""
    n = len(pop)
    n_loop = min(n, loop_students)
    _log(f"  {label}: per-student loop over {n_loop} of the {n} students (time scaled linearly) ...")
    t = time.perf_counter()
    for i, s in enumerate(pop[:n_loop]):
        model.adapt([s])
        if i % 500 == 499:
            _log(f"    loop {100 * (i + 1) / n_loop:.0f}%")
    _sync(model)
    loop_s = (time.perf_counter() - t) * n / n_loop
    _log(f"  {label}: batched calls over {n} students ...")
    t = time.perf_counter()
    for a in range(0, n, 2500):  # chunks bound memory; still batched
        model.adapt(pop[a : a + 2500])
        _log(f"    batched {100 * min(a + 2500, n) / n:.0f}%")
    _sync(model)
    return loop_s, time.perf_counter() - t


def _serving(
    name: str, n_students: int, length: int, device: str, quick: bool, threads: int, loop_students: int
) -> dict[str, float | None]:
    """Serving timings: adapt one student on one thread; loop vs batched on one thread and on `threads`."""
    cfg = {"epochs": 1} if name in ("best", "dkt", "dkt-lstm", "protonet", "matching", "dkvmn") else {}
    if name in ("maml", "fomaml", "reptile", "metasgd"):
        cfg = {"steps": 5}
    torch.set_num_threads(1)
    model = get_model(name, **cfg).fit(_synthetic(200, 50, 110, 0), device=device, seed=0)
    one = _synthetic(1, length, 110, 1)
    for _ in range(5):
        model.adapt(one)
    times = []
    for _ in range(50 if quick else 300):
        t = time.perf_counter()
        st = model.adapt(one)[0]
        model.predict(st, [3])
        times.append(1000 * (time.perf_counter() - t))
    base = model.adapt([one[0].prefix(length - 1)])[0]
    ext = []
    for _ in range(50 if quick else 300):
        t = time.perf_counter()
        extended = model.extend(base, one[0].since(length - 1))
        _sync(model)
        ext.append(1000 * (time.perf_counter() - t))
    pop = _synthetic(n_students, length, 110, 2)
    loop1, batch1 = _loop_vs_batched(model, pop, loop_students, f"{name}, 1 thread")
    out = {
        "adapt_one_p50_ms": float(np.percentile(times, 50)),
        "adapt_one_p99_ms": float(np.percentile(times, 99)),
        # one new answer added to a stored state (None: the family re-adapts from the whole history)
        "extend_one_p99_ms": float(np.percentile(ext, 99)) if extended is not None else None,
        "loop_students_timed": min(n_students, loop_students),
        "loop_s_1thread": loop1,
        "batched_s_1thread": batch1,
        "batched_speedup_1thread": loop1 / batch1,
    }
    if threads > 1:
        torch.set_num_threads(threads)
        loop_n, batch_n = _loop_vs_batched(model, pop, loop_students, f"{name}, {threads} threads")
        torch.set_num_threads(1)
    else:
        loop_n, batch_n = loop1, batch1
    out.update(
        {"threads_batched": threads, "loop_s": loop_n, "batched_s": batch_n, "batched_speedup": loop_n / batch_n}
    )
    return out


def run_bench(args) -> int:
    quick = bool(getattr(args, "quick", False))
    n, length = (300, 50) if quick else (10_000, 200)
    res: dict[str, float | str | int | None] = {
        "model": args.model,
        "students": n,
        "responses_per_student": length,
        "threads_serving": 1,
    }
    threads = torch.get_num_threads()
    try:
        _log(f"[1/3] serving path of '{args.model}' ({length} responses per student)")
        s = _serving(args.model, n, length, args.device, quick, threads, args.loop_students)
        res.update(s)
        _log("[2/3] vmap-batched MAML inner loop vs per-student loop")
        m = _serving("maml", n, length, args.device, quick, threads, args.loop_students)
        res.update(
            {
                "maml_adapt_one_p99_ms": m["adapt_one_p99_ms"],
                "maml_batched_speedup": m["batched_speedup"],
                "maml_batched_speedup_1thread": m["batched_speedup_1thread"],
            }
        )
    finally:
        torch.set_num_threads(threads)
    if getattr(args, "threads", 0):
        torch.set_num_threads(args.threads)
    res["threads_metatrain"] = torch.get_num_threads()
    train_path = Path(args.train) if args.train else DEFAULT_TRAIN
    if quick or not train_path.exists():
        seqs, label = _synthetic(100, 30, 20, 3), "synthetic (100 students)"
        cfg = {"epochs": 2} if args.model in ("best", "dkt", "dkt-lstm") else {}
    else:
        seqs, label, cfg = read_sequences(train_path), str(train_path), {}
    _log(f"[3/3] meta-training '{args.model}' on {label} ({torch.get_num_threads()} threads)")
    t = time.perf_counter()
    fitted = get_model(args.model, **cfg).fit(
        seqs,
        device=args.device,
        seed=0,
        callbacks=[
            lambda i: (
                _log(f"    epoch {i.get('epoch')} {i.get('percent', 0):.0f}%") if i.get("stage") == "epoch" else None
            )
        ],
    )
    _sync(fitted)
    res["metatrain_seconds"] = time.perf_counter() - t
    res["metatrain_data"] = label
    if args.json:
        print(json.dumps(res, indent=1))
    else:
        print(f"{'metric':28s} value")
        for k, v in res.items():
            print(f"{k:28s} {v:.3f}" if isinstance(v, float) else f"{k:28s} {v}")
    return 0
