#!/usr/bin/env bash
# One meta-training through the product's Celery task on a CUDA GPU, timed against the same training on
# CPU (the GPU measurement asked for in docs/operations.md, "GPU"):
#   1. a fresh SQLite database with the demo school (SESSIONS simulated sessions per student);
#   2. a Celery worker on the metatrain queue with METIS_TRAIN_DEVICE=cuda (embedded broker), a run
#      queued with `manage.py metatrain --async`, followed with `manage.py metatrain_status --wait`;
#   3. the same training on a CPU worker (n_models is spelled out, so the registry treats it as a new
#      request);
# Both runs train EPOCHS epochs per member with early stopping off, so their times compare (each run seeds
# from its id, and early stopping would otherwise end them at different epochs).
#   4. both runs: device, wall time, held-out AUC.
# On a GPU image without Django: run scripts/device_wheels.sh here first and carry .whl; they are
# installed into /tmp/site. Usage: scripts/cuda_worker_check.sh [OUT_DIR]
set -u
OUT=${1:-var/cuda_worker_check}
PY=${PY:-python3}
DEV=${DEVICE:-cuda}  # DEVICE=cpu: a dry run without a GPU
SESSIONS=${SESSIONS:-20}
EPOCHS=${EPOCHS:-10}
HP="\"epochs\": $EPOCHS, \"patience\": 1000"
mkdir -p "$OUT"
if [ -d .whl ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
METIS_VAR_DIR=$(mktemp -d)
export METIS_VAR_DIR PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=tutor.settings
unset DATABASE_URL CELERY_BROKER_URL CELERY_RESULT_BACKEND
step() { echo; echo "== $1 ($(date -u +%H:%M:%S))"; }

step "1. demo school, $SESSIONS sessions per student"
"$PY" manage.py migrate --no-input -v 0 || exit 1
"$PY" manage.py demo_seed --sessions "$SESSIONS" 2>/dev/null || exit 1

run_on_worker() {  # DEVICE HYPERPARAMETERS: a fresh worker on the metatrain queue trains one queued run
  METIS_TRAIN_DEVICE=$1 "$PY" -m celery -A tutor worker -Q metatrain -c 1 -P solo --without-gossip \
    --without-mingle --without-heartbeat -l INFO > "$OUT/worker_$1_$(date +%s).log" 2>&1 &
  local worker=$!
  "$PY" manage.py metatrain --async --hyperparameters "$2"
  timeout 900 "$PY" manage.py metatrain_status --wait --interval 5
  kill $worker 2>/dev/null; wait $worker 2>/dev/null
}

step "2. metatrain task on a worker with METIS_TRAIN_DEVICE=$DEV"
run_on_worker "$DEV" "{$HP}"

step "3. the same training on a CPU worker"
run_on_worker cpu "{$HP, \"n_models\": 3}"

step "4. both runs"
"$PY" manage.py metatrain_status --latest 2 | tee "$OUT/runs.txt"
"$PY" manage.py metatrain_status --latest 2 --json > "$OUT/runs.json"
