#!/usr/bin/env bash
# make loadtest: the documented deployment (gunicorn workers, collectstatic, persistent database connections,
# PostgreSQL, Redis, a Celery worker) on loopback, driven by locust; figures and targets from report.py.
# Parameters (environment): USERS (200) DURATION (10m) SPAWN_RATE (USERS/60 per s, at least 1) WORKERS (5)
# THREADS (1: sync workers; more: gunicorn's gthread workers with that many threads each)
# LOAD_DATABASE_URL (postgres://postgres@127.0.0.1:5432/metis_load; the database is dropped and re-created)
# LOAD_REDIS (redis://127.0.0.1:6379; databases LOAD_REDIS_BROKER_DB=13 and LOAD_REDIS_CACHE_DB=14 are flushed)
# LOAD_PORT (18765) LOAD_OUT (var/loadtest/<time>)
# LOAD_REUSE_DB=1 keeps the database of the previous run with the same USERS (no re-creation, no seeding).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
BIN=$(dirname "$PY")
USERS=${USERS:-200}
DURATION=${DURATION:-10m}
WORKERS=${WORKERS:-5}
PORT=${LOAD_PORT:-18765}
THREADS=${THREADS:-1}
# A class logs in over about a minute after the bell; every class of the run starting at once is the worst case.
SPAWN_RATE=${SPAWN_RATE:-$(( USERS / 60 > 0 ? USERS / 60 : 1 ))}
DB_URL=${LOAD_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/metis_load}
REDIS=${LOAD_REDIS:-redis://127.0.0.1:6379}
BROKER_DB=${LOAD_REDIS_BROKER_DB:-13}
CACHE_DB=${LOAD_REDIS_CACHE_DB:-14}
OUT=${LOAD_OUT:-var/loadtest/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT/var"

DB_NAME=${DB_URL##*/}
ADMIN_URL=${DB_URL%/*}/postgres
STUDENTS=$USERS
TEACHERS=$(( (USERS + 29) / 30 ))

export METIS_ENV=production
export SECRET_KEY=${LOAD_SECRET_KEY:-$("$PY" -c 'import secrets; print(secrets.token_urlsafe(64))')}
export ALLOWED_HOSTS=127.0.0.1,localhost
export DATABASE_URL=$DB_URL
export CELERY_BROKER_URL=$REDIS/$BROKER_DB
export CACHE_URL=$REDIS/$CACHE_DB
export METIS_VAR_DIR=$OUT/var
export OMP_NUM_THREADS=1
export DEMO_PASSWORD=${LOAD_PASSWORD:-load-test-password-$RANDOM$RANDOM}
export LOAD_PASSWORD=$DEMO_PASSWORD LOAD_STUDENTS=$STUDENTS LOAD_TEACHERS=$TEACHERS
export LOAD_SUBMIT_LOG=$OUT/acknowledged.csv LOAD_TIMINGS=$OUT/timings.csv
: >"$LOAD_SUBMIT_LOG"
: >"$LOAD_TIMINGS"

PIDS=()
stop() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop EXIT

if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
  echo "something already listens on 127.0.0.1:$PORT: set LOAD_PORT to a free port" >&2
  exit 2
fi

if [ "${LOAD_REUSE_DB:-0}" = 1 ]; then
  echo "== reusing database $DB_NAME; Redis $CELERY_BROKER_URL and $CACHE_URL flushed; output in $OUT"
  redis-cli -u "$CELERY_BROKER_URL" flushdb >/dev/null
  redis-cli -u "$CACHE_URL" flushdb >/dev/null
  "$PY" scripts/loadtest/seed.py --reset-passwords
else
  echo "== database $DB_NAME (re-created), Redis $CELERY_BROKER_URL and $CACHE_URL (flushed); output in $OUT"
  psql "$ADMIN_URL" -qAtc "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" -c "CREATE DATABASE \"$DB_NAME\""
  redis-cli -u "$CELERY_BROKER_URL" flushdb >/dev/null
  redis-cli -u "$CACHE_URL" flushdb >/dev/null

  echo "== migrate, collectstatic, demo school with histories, first model, $STUDENTS load students"
  "$PY" manage.py migrate --no-input -v0
  "$PY" manage.py collectstatic --no-input -v0
  "$PY" manage.py demo_seed --i-know-this-is-production >"$OUT/seed.log" 2>&1
  "$PY" manage.py metatrain --if-none >>"$OUT/seed.log" 2>&1
  "$PY" scripts/loadtest/seed.py --students "$STUDENTS"
fi

echo "== gunicorn ($WORKERS workers, $THREADS thread(s) each) and a Celery worker on 127.0.0.1:$PORT"
"$BIN/celery" -A tutor worker -Q default,adapt -c 2 --loglevel WARNING >"$OUT/celery.log" 2>&1 &
PIDS+=($!)
"$BIN/gunicorn" tutor.wsgi --workers "$WORKERS" --threads "$THREADS" --bind "127.0.0.1:$PORT" --access-logfile - >"$OUT/gunicorn.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 120); do
  curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
  kill -0 "${PIDS[1]}" 2>/dev/null || { echo "gunicorn did not start: $OUT/gunicorn.log" >&2; exit 2; }
  sleep 1
done
curl -fsS "http://127.0.0.1:$PORT/healthz"; echo
for _ in $(seq $(( WORKERS * 4 ))); do  # each worker's first request loads what it caches; not a student's wait
  curl -fs -o /dev/null -H "X-Forwarded-Proto: https" "http://127.0.0.1:$PORT/login/" || true
done

SINCE=$(date -u +%Y-%m-%dT%H:%M:%S+00:00)
echo "== locust: $USERS users ($STUDENTS students, $TEACHERS teachers), spawn $SPAWN_RATE/s, for $DURATION"
"$BIN/locust" -f scripts/loadtest/locustfile.py --headless --users "$USERS" --spawn-rate "$SPAWN_RATE" \
  --run-time "$DURATION" --host "http://127.0.0.1:$PORT" --csv "$OUT/locust" --only-summary \
  --stop-timeout 20 >"$OUT/locust.log" 2>&1 || true
stop
trap - EXIT
sleep 2  # the Celery worker finishes its last refreshes

echo "== results"
"$PY" scripts/loadtest/report.py --stats "$OUT/locust_stats.csv" --submits "$LOAD_SUBMIT_LOG" --since "$SINCE" \
  --timings "$LOAD_TIMINGS" | tee "$OUT/report.txt"
exit "${PIPESTATUS[0]}"
