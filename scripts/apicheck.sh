#!/usr/bin/env bash
# make apicheck: schemathesis over the REST API's whole OpenAPI schema, against a live dev server on a fresh
# SQLite database seeded with the demo school, as an API client with read and write scopes.
# Checks: no server error (5xx), and every response's status, content type and body as the schema says; and every
# operation got at least EXAMPLES cases (scripts/apicheck_summary.py). Settings schemathesis reads: scripts/apicheck.toml.
# Usage: scripts/apicheck.sh [extra schemathesis options]   e.g. --include-path-regex attempts
#   EXAMPLES=100 (generated cases per operation), APICHECK_PORT=8765, SEED=1 (reproducible runs),
#   PHASES=examples,coverage,fuzzing (add ",stateful" for chains of calls: about twice as long).
# Reports (JUnit XML, NDJSON events, summarised per operation at the end) and the server's log: var/apicheck/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SCHEMATHESIS=${SCHEMATHESIS:-.venv/bin/schemathesis}
PORT=${APICHECK_PORT:-8765}
EXAMPLES=${EXAMPLES:-100}
OUT=var/apicheck
mkdir -p "$OUT"
METIS_VAR_DIR=$(mktemp -d)
# Always the fresh SQLite database and embedded broker described above, even under CI's environment (which
# points DATABASE_URL at the test suite's PostgreSQL).
unset DATABASE_URL CELERY_BROKER_URL CACHE_URL
# DEBUG off: errors as production answers them; a throttle no run reaches.
export METIS_VAR_DIR DEBUG=false API_CLIENT_RATE=1000000/minute PYTHONUNBUFFERED=1
SERVER=""
cleanup() {
    if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
    rm -rf "$METIS_VAR_DIR"
}
trap cleanup EXIT

echo "== seeding a fresh database ($(date -u +%H:%M:%S))"
"$PY" manage.py migrate --no-input -v0
"$PY" manage.py demo_seed --sessions 1 >/dev/null 2>&1
TOKEN=$("$PY" manage.py api_client_create --org demo-school --name apicheck --scopes read,write 2>/dev/null)

echo "== dev server on 127.0.0.1:$PORT"
"$PY" manage.py runserver "127.0.0.1:$PORT" --noreload >"$OUT/server.log" 2>&1 &
SERVER=$!

echo "== schemathesis, $EXAMPLES cases per operation ($(date -u +%H:%M:%S))"
status=0
"$SCHEMATHESIS" --config-file scripts/apicheck.toml run "http://127.0.0.1:$PORT/api/schema/" \
    --wait-for-schema 60 \
    --header "Authorization: Bearer $TOKEN" \
    --max-examples "$EXAMPLES" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --workers 1 \
    --phases "${PHASES:-examples,coverage,fuzzing}" \
    ${SEED:+--seed "$SEED"} \
    --generation-database none \
    --report junit,ndjson --report-junit-path "$OUT/junit.xml" --report-ndjson-path "$OUT/events.ndjson" \
    --no-color "$@" || status=$?
echo "== per operation"
# An operation with fewer cases than asked for fails the run too (the summary names it).
summary=0
"$PY" scripts/apicheck_summary.py --min-cases "$EXAMPLES" "$OUT/events.ndjson" || summary=$?
echo "== done ($(date -u +%H:%M:%S)); the server's log: $OUT/server.log"
if [ "$status" -eq 0 ]; then status=$summary; fi
exit $status
