#!/usr/bin/env bash
# Wheels of the Django side of Metis for a bare GPU machine whose image has Python 3.12 with torch, numpy,
# sympy, PyYAML, Jinja2 and python-dateutil, but no Django or Celery, and no network (see
# scripts/cuda_worker_check.sh). Run here, where pip reaches the registry; the versions are those pinned in
# requirements.txt. All of these are pure-Python wheels.
# Usage: scripts/device_wheels.sh [DEST]   (default .whl; add it to .git/info/exclude and carry it)
set -euo pipefail
DEST=${1:-.whl}
NAMES="Django asgiref sqlparse celery billiard click-didyoumean click-plugins click-repl kombu amqp vine tzlocal
wcwidth prompt_toolkit dj-database-url django-htmx whitenoise"
pins=()
for n in $NAMES; do
  pin=$(grep -i -E "^${n}==" requirements.txt) || { echo "no pin for $n in requirements.txt" >&2; exit 1; }
  pins+=("$pin")
done
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d "$DEST" "${pins[@]}"
ls "$DEST"
