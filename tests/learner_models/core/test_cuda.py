"""CPU/CUDA agreement: the same code on both, the same predictions within tolerance.

These run only where PyTorch sees a CUDA device (skipped elsewhere, e.g. in CI); `scripts/cuda_check.sh`
runs them on a GPU machine. The product meta-trains on a GPU worker and serves on CPU web processes, and
a state adapted on one may be continued on the other, so each family is checked both ways.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from learner_models.core import LearnerModel, get_model, state_from_bytes, state_to_bytes
from learner_models.core.evaluate import auc
from tests.learner_models.core.kt_helpers import EXTENDS, QUICK, synth

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

FAMILIES = list(QUICK)
# Largest |P(correct) on CUDA - P(correct) on CPU| allowed. fp32 on both sides, but cuDNN's recurrent
# kernels may use TF32 tensor cores (PyTorch's default for cuDNN), about 3 decimal digits in the
# hidden-state products; on a 0-1 probability that stays well under 0.5 percentage points.
TOL = 5e-3
TOL_NO_TF32 = 1e-4  # with TF32 off everywhere: only the order of fp32 sums differs


def _largest_gaps(name: str, tmp_path) -> dict[str, float]:
    train, test = synth(150, seed=0), synth(24, seed=1)
    m = get_model(name, **QUICK[name]).fit(train, device="cuda", seed=0)
    assert m.device.type == "cuda" and all(p.is_cuda for p in m.net.parameters())
    ids = np.arange(10)
    online = m.predict_online(test)
    states = m.adapt(test)  # 24 students: the batched path (fused GRU for `best`)
    one = m.adapt(test[:1])[0]  # one student: the per-answer path
    path = tmp_path / f"{name}.pt"
    m.save(path)
    cpu = LearnerModel.load(path, device="cpu")
    gaps = {
        "online": max(float(np.abs(a - b).max()) for a, b in zip(online, cpu.predict_online(test), strict=True)),
        "adapt_batched": max(
            float(np.abs(m.predict(a, ids) - cpu.predict(b, ids)).max())
            for a, b in zip(states, cpu.adapt(test), strict=True)
        ),
        "adapt_one": float(np.abs(m.predict(one, ids) - cpu.predict(cpu.adapt(test[:1])[0], ids)).max()),
        # a state adapted on the GPU worker, stored, and served by a CPU process
        "gpu_state_on_cpu": max(
            float(np.abs(m.predict(st, ids) - cpu.predict(state_from_bytes(state_to_bytes(st)), ids)).max())
            for st in states
        ),
    }
    if name in EXTENDS:
        s = test[3]
        cut = len(s) // 2
        on_gpu = m.extend(m.adapt([s.prefix(cut)])[0], s.since(cut))
        on_cpu = cpu.extend(cpu.adapt([s.prefix(cut)])[0], s.since(cut))
        assert on_gpu is not None and on_cpu is not None
        gaps["extend"] = float(np.abs(m.predict(on_gpu, ids) - cpu.predict(on_cpu, ids)).max())
    # the moved model (to) predicts as the loaded one does
    moved = m.to("cpu")
    gaps["moved_vs_loaded"] = max(
        float(np.abs(a - b).max()) for a, b in zip(moved.predict_online(test), cpu.predict_online(test), strict=True)
    )
    return gaps


@pytest.mark.parametrize("name", FAMILIES)
def test_fitted_on_cuda_predicts_the_same_on_cuda_and_cpu(name, tmp_path):
    gaps = _largest_gaps(name, tmp_path)
    print(f"\n{name}: largest |p_cuda - p_cpu| " + ", ".join(f"{k} {v:.2e}" for k, v in gaps.items()))
    assert gaps["moved_vs_loaded"] == 0.0
    assert max(gaps.values()) <= TOL, gaps


@pytest.mark.parametrize("name", ["best", "dkt-lstm", "dkvmn", "maml"])
def test_without_tf32_cuda_and_cpu_agree_to_fp32_rounding(name, tmp_path):
    cudnn, matmul = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        gaps = _largest_gaps(name, tmp_path)
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = cudnn, matmul
    print(f"\n{name} (TF32 off): largest |p_cuda - p_cpu| " + ", ".join(f"{k} {v:.2e}" for k, v in gaps.items()))
    assert max(gaps.values()) <= TOL_NO_TF32, gaps


def test_fused_gru_on_cuda_equals_cudnn():
    """The large-batch path (FusedGRU) against cuDNN's GRU on the same device."""
    from learner_models.core import sequence

    m = get_model("best", **QUICK["best"]).fit(synth(60, seed=3), device="cuda", seed=0)
    students = synth(40, seed=4, length=50)
    old = dict(sequence.FUSED_MIN_BATCH)
    cudnn = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        sequence.FUSED_MIN_BATCH.update(cuda=10**9)
        packed = m.adapt(students)
        sequence.FUSED_MIN_BATCH.update(cuda=1)
        fused = m.adapt(students)
    finally:
        sequence.FUSED_MIN_BATCH.update(old)
        torch.backends.cudnn.allow_tf32 = cudnn
    for a, b in zip(packed, fused, strict=True):
        assert b["h"].is_cuda
        torch.testing.assert_close(b["h"], a["h"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["best", "elo", "maml", "protonet"])
def test_fitting_on_cuda_learns_as_well_as_on_cpu(name):
    """Training is not bit-identical across devices, but it must reach the same quality.

    A device change acts like a change of seed: on CPU, seeds 0-4 of these configs spread by up to 0.017
    test AUC (maml; best 0.012), so the bound is 0.03.
    """
    train, test = synth(150, seed=0), synth(60, seed=1)
    y = np.concatenate([s.correct for s in test])
    a = {
        dev: auc(y, np.concatenate(get_model(name, **QUICK[name]).fit(train, device=dev, seed=0).predict_online(test)))
        for dev in ("cpu", "cuda")
    }
    print(f"\n{name}: test AUC cpu {a['cpu']:.4f} cuda {a['cuda']:.4f}")
    assert a["cuda"] > 0.55 and abs(a["cuda"] - a["cpu"]) < 0.03, a
