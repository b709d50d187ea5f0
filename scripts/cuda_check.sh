#!/usr/bin/env bash
# The CUDA checks of the learner-model core, in one run on a machine with a CUDA GPU, most important first:
#   1. `best` meta-trained on assist2009_updated on CUDA (timed), its checkpoint then scored on CUDA and
#      on CPU: the same weights on both devices, compared prediction by prediction;
#   2. `python -m learner_models bench --device cuda --json`;
#   3. CPU/CUDA agreement tests (tests/learner_models/core/test_cuda.py; skipped where there is no GPU);
#   4. `best` meta-trained and scored on STATICS on CUDA.
# Usage: scripts/cuda_check.sh [DATA_DIR] [OUT_DIR]   (DATA_DIR holds the *_train.csv / *_test.csv files)
# Needs only Python with torch and numpy (and pytest for step 3), no Django. Results go to OUT_DIR; score
# the predictions with ../shared/eval/kt_coldstart.py. Each step has its own time limit so a slow step
# cannot take the later ones with it.
set -u
DATA=${1:-../shared/data/kt}
OUT=${2:-var/cuda_check}
PY=${PY:-python3}
DEV=${DEVICE:-cuda}  # DEVICE=cpu: a dry run of this script on a machine without a GPU
# BENCH_ARGS=--quick: small bench sizes (dry run)
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$(pwd)
mkdir -p "$OUT"
step() { echo; echo "== $1 ($(date -u +%H:%M:%S))"; }

step "environment"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
"$PY" -c 'import torch, platform; print("python", platform.python_version(), "torch", torch.__version__,
"cuda", torch.version.cuda, torch.cuda.get_device_name() if torch.cuda.is_available() else "NO CUDA DEVICE",
"cpu threads", torch.get_num_threads())'
[ "$DEV" = cpu ] || "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' || { echo "no CUDA device"; exit 1; }

step "1. best on assist2009_updated: meta-train on CUDA, score the checkpoint on CUDA and on CPU"
timeout 200 "$PY" -m learner_models kt-eval --train "$DATA/assist2009_updated_train.csv" \
  --test "$DATA/assist2009_updated_test.csv" --model best --device $DEV --seed 0 \
  --out "$OUT/assist_cuda.csv" --save "$OUT/assist_best.pt" 2>&1 | tee "$OUT/assist_fit.log" | grep -v "stage\|  train"
timeout 60 "$PY" -m learner_models kt-predict --checkpoint "$OUT/assist_best.pt" \
  --test "$DATA/assist2009_updated_test.csv" --device cpu --out "$OUT/assist_cpu.csv"
"$PY" - "$OUT/assist_cuda.csv" "$OUT/assist_cpu.csv" <<'PYEOF'
import sys
import numpy as np
a, b = (np.loadtxt(f, delimiter=",", skiprows=1) for f in sys.argv[1:3])
assert a.shape == b.shape and (a[:, :2] == b[:, :2]).all(), "different rows"
d = np.abs(a[:, 2] - b[:, 2])
print(f"same checkpoint, CUDA vs CPU: {len(d)} predictions, largest |diff| {d.max():.2e}, "
      f"mean {d.mean():.2e}, share over 1e-3 {(d > 1e-3).mean():.4f}")
PYEOF

step "2. bench on CUDA"
timeout 200 "$PY" -m learner_models bench --device $DEV --json --loop-students ${LOOP_STUDENTS:-500} ${BENCH_ARGS:-} --train "$DATA/assist2009_updated_train.csv" \
  > "$OUT/bench_cuda.json" 2> "$OUT/bench_cuda.log"; echo "exit $?"; cat "$OUT/bench_cuda.json"

step "3. CPU/CUDA agreement tests"
timeout 150 "$PY" -m pytest -p no:django -p no:cacheprovider -W ignore::pytest.PytestConfigWarning \
  tests/learner_models/core/test_cuda.py -q -s -rA 2>&1 | tee "$OUT/tests.log"

step "4. best on STATICS on CUDA"
timeout 120 "$PY" -m learner_models kt-eval --train "$DATA/STATICS_train.csv" --test "$DATA/STATICS_test.csv" \
  --model best --device $DEV --seed 0 --out "$OUT/statics_cuda.csv" 2>&1 | tee "$OUT/statics_fit.log" \
  | grep -v "stage\|  train"
step "done"
