"""make faultcheck: kill the database and the Celery worker under load; check that nothing acknowledged is lost.

Everything runs on loopback against PRIVATE servers started here (a PostgreSQL cluster and two Redis servers
in a temporary folder, on their own ports), never against shared ones:

1. gunicorn (production settings), a Celery worker (default, adapt and metatrain queues), a seeded database
   with an active model, and ``--students`` simulated students answering (scripts/faultcheck/students.py);
2. database fault: every process of the PostgreSQL cluster is SIGKILLed, left down ``--db-down`` seconds and
   started again (crash recovery), while the students keep going;
3. worker and broker fault: a meta-training run is requested; once it is training, the Celery worker is
   SIGKILLed, the broker's Redis is SIGKILLed (no persistence: every queued message is lost) and started
   again, then a fresh worker; the run must end with exactly one model version, the active version serving
   next items throughout (``/healthz`` polled every second, students' practice pages counted).

Afterwards every answer a student got a 200 with a verdict for is looked up in the database. Prints a table
(or ``--json``) and exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from students import Journal, Student  # noqa: E402

# Small enough to train in tens of seconds on 2 CPU cores, long enough to be killed in the middle.
TRAINING = {"n_models": 1, "epochs": 40, "patience": 40, "hidden": 32, "d_model": 32, "head_hidden": 16}
KILL_AT_PERCENT = 25
FIRST_MODEL = {"n_models": 1, "epochs": 3, "hidden": 16, "d_model": 16, "head_hidden": 16, "patience": 3}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


class Child:
    """A server process in its own process group, output to a log file."""

    def __init__(self, name: str, argv: list[str], *, env: dict, logdir: Path) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.logfile = logdir / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Child:
        out = self.logfile.open("a")
        self.proc = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    def kill(self) -> None:
        """SIGKILL every process of the group: no shutdown, no goodbye."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


class Postgres:
    """A private cluster: initdb into a temporary folder, one port, the socket in the folder."""

    def __init__(self, base: Path, port: int, logdir: Path) -> None:
        self.data, self.port, self.logdir = base / "pg", port, logdir
        self.as_owner: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse root: run them as the postgres account
            self.as_owner = ["runuser", "-u", "postgres", "--"]
            self.data.mkdir(mode=0o700)
            pw = pwd.getpwnam("postgres")
            os.chown(base, pw.pw_uid, pw.pw_gid)
            os.chown(self.data, pw.pw_uid, pw.pw_gid)
        self.server: Child | None = None

    def init(self) -> None:
        subprocess.run(
            [*self.as_owner, "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync"],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> None:
        argv = [*self.as_owner, "postgres", "-D", str(self.data), "-p", str(self.port), "-k", str(self.data)]
        argv += ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=100"]
        self.server = Child("postgres", argv, env=dict(os.environ), logdir=self.logdir).start()
        for _ in range(300):
            if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)]).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not start: {self.logdir / 'postgres.log'}")

    def processes(self) -> list[int]:
        """The postmaster (from postmaster.pid) and its children: every process of this cluster, no other."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        pids = [postmaster]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                pids.append(int(stat.parent.name))
        return pids

    def kill(self) -> int:
        pids = self.processes()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.server.proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(Path(f"/proc/{pid}").exists() and _state(pid) != "Z" for pid in pids):
            if time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL processes survived SIGKILL")
            time.sleep(0.05)
        return len(pids)

    def stop(self) -> None:
        if self.server:
            self.server.stop()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


def _static_current() -> bool:
    """collectstatic (hashing and compressing every file: minutes on a busy 2-core machine) is skipped when
    the manifest is newer than every file under static/."""
    manifest = ROOT / "staticfiles" / "staticfiles.json"
    if not manifest.exists():
        return False
    built = manifest.stat().st_mtime
    return all(p.stat().st_mtime < built for p in (ROOT / "static").rglob("*") if p.is_file())


def redis(name: str, port: int, logdir: Path) -> Child:
    """A Redis with no persistence: a restart loses everything it held (the worst case for a broker)."""
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    return Child(name, argv, env=dict(os.environ), logdir=logdir)


def wait_port(port: int, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while free(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} does not listen on {port}")
        time.sleep(0.1)


class HealthPoller(threading.Thread):
    """GET /healthz (with the token, so it names the active version) every second."""

    def __init__(self, host: str, token: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.host, self.token, self.stop = host, token, stop
        self.samples: list[tuple[float, int, object]] = []  # (answered at, HTTP status or 0, active version or None)

    def run(self) -> None:
        import requests

        while not self.stop.is_set():
            try:
                r = requests.get(self.host + "/healthz", headers={"Authorization": f"Bearer {self.token}"}, timeout=10)
                body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
                version = (body.get("learner_model") or {}).get("active_version")
                self.samples.append((time.monotonic(), r.status_code, version))
            except Exception:
                self.samples.append((time.monotonic(), 0, None))
            self.stop.wait(1.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--warmup", type=float, default=20, help="seconds of load before the database fault")
    parser.add_argument("--db-down", type=float, default=5, help="seconds the database stays down")
    parser.add_argument("--between", type=float, default=15, help="seconds of load between the two faults")
    parser.add_argument("--after", type=float, default=15, help="seconds of load after the run completed")
    parser.add_argument("--broker-down", type=float, default=3, help="seconds the broker stays down")
    parser.add_argument("--think", type=float, nargs=2, default=(1.0, 3.0), metavar=("MIN", "MAX"))
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--pg-port", type=int, default=55432)
    parser.add_argument("--broker-port", type=int, default=56379)
    parser.add_argument("--cache-port", type=int, default=56380)
    parser.add_argument("--web-port", type=int, default=18865)
    parser.add_argument("--out", type=Path, default=None, help="logs (default var/faultcheck/<time>)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary database folder")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    busy = [p for p in (args.pg_port, args.broker_port, args.cache_port, args.web_port) if not free(p)]
    if busy:
        print(
            f"ports in use: {busy}; choose others (--pg-port, --broker-port, --cache-port, --web-port)", file=sys.stderr
        )
        return 2
    out = args.out or ROOT / "var" / "faultcheck" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="metis-faultcheck-"))
    python = sys.executable
    binary = Path(python).parent
    password = secrets.token_urlsafe(16)
    token = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "METIS_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{args.pg_port}/metis_fault",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{args.broker_port}/0",
        "CACHE_URL": f"redis://127.0.0.1:{args.cache_port}/0",
        "METIS_VAR_DIR": str(out / "var"),
        "MEDIA_ROOT": str(out / "var" / "media"),
        "METIS_TRAIN_DEVICE": "cpu",
        "OMP_NUM_THREADS": "1",
        "HEALTHZ_TOKEN": token,
        "DEMO_PASSWORD": password,
        "LOAD_PASSWORD": password,
        "PYTHONUNBUFFERED": "1",
    }
    env.setdefault("DJANGO_SETTINGS_MODULE", "tutor.settings")
    os.environ.update(env)  # this process reads the same database (django.setup() below)

    pg = Postgres(base, args.pg_port, out)
    broker = redis("redis-broker", args.broker_port, out)
    cache = redis("redis-cache", args.cache_port, out)
    worker_argv = [str(binary / "celery"), "-A", "tutor", "worker", "-Q", "default,adapt,metatrain", "-c", "2"]
    worker_argv += ["-n", "faultcheck@%h", "--without-gossip", "--without-mingle", "-l", "INFO"]
    worker = Child("celery", worker_argv, env=env, logdir=out)
    web = Child(
        "gunicorn",
        [str(binary / "gunicorn"), "tutor.wsgi", "--workers", str(args.workers), "--bind", f"127.0.0.1:{args.web_port}"]
        + ["--access-logfile", "-"],
        env=env,
        logdir=out,
    )
    children = [web, worker, broker, cache]
    stop = threading.Event()
    host = f"http://127.0.0.1:{args.web_port}"
    figures: dict = {"students": args.students, "logs": str(out)}
    problems: list[str] = []
    try:
        t0 = time.monotonic()
        log(f"private PostgreSQL :{args.pg_port}, Redis :{args.broker_port} (broker) :{args.cache_port} (cache)")
        pg.init()
        pg.start()
        broker.start()
        cache.start()
        wait_port(args.broker_port, "redis")
        wait_port(args.cache_port, "redis")
        subprocess.run(
            [
                "psql",
                "-qAt",
                "-h",
                "127.0.0.1",
                "-p",
                str(args.pg_port),
                "-U",
                "postgres",
                "-c",
                "CREATE DATABASE metis_fault",
            ],
            check=True,
        )
        log("migrate, demo school, first model, load students")
        manage = [python, "manage.py"]
        seedlog = (out / "seed.log").open("w")
        for argv in (
            [*manage, "migrate", "--no-input", "-v0"],
            *([] if _static_current() else [[*manage, "collectstatic", "--no-input", "-v0"]]),
            [*manage, "demo_seed", "--i-know-this-is-production"],
            [*manage, "metatrain", "--if-none", "--hyperparameters", json.dumps(FIRST_MODEL)],
            [python, "scripts/loadtest/seed.py", "--students", str(args.students)],
        ):
            step = time.monotonic()
            subprocess.run(argv, cwd=ROOT, env=env, check=True, stdout=seedlog, stderr=subprocess.STDOUT)
            log(f"  {' '.join(argv[1:3])}: {time.monotonic() - step:.0f} s")
        figures["setup_s"] = round(time.monotonic() - t0)

        import django

        django.setup()
        from django.db import close_old_connections, connection

        from learner_models import services
        from learner_models.models import ModelVersion, TrainingRun
        from tutor.models import Attempt

        def db(query):
            """A query from this process, reconnecting after the database was killed."""
            for _ in range(30):
                try:
                    close_old_connections()
                    return query()
                except Exception:
                    connection.close()
                    time.sleep(1)
            return query()

        serving = db(lambda: ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE).pk)
        log(f"model version {serving} serves; gunicorn ({args.workers} workers) and a Celery worker")
        worker.start()
        web.start()
        for _ in range(120):
            try:
                import requests

                if requests.get(host + "/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        else:
            raise RuntimeError(f"gunicorn did not start: {web.logfile}")

        journal = Journal()
        poller = HealthPoller(host, token, stop)
        poller.start()
        students = [
            Student(
                host=host,
                username=f"load-student-{n:04d}",
                password=password,
                journal=journal,
                stop=stop,
                think=tuple(args.think),
            )
            for n in range(1, args.students + 1)
        ]
        log(f"{args.students} students start")
        load_started = time.monotonic()
        for s in students:
            s.start()
            time.sleep(0.25)
        time.sleep(args.warmup)

        # --- fault 1: the database ---------------------------------------------
        log("SIGKILL every PostgreSQL process")
        db_killed = time.monotonic()
        figures["db_processes_killed"] = pg.kill()
        time.sleep(args.db_down)
        pg.start()
        db_back = time.monotonic()
        log(f"PostgreSQL restarted after {db_back - db_killed:.1f} s (crash recovery)")
        time.sleep(args.between)

        # --- fault 2: the Celery worker and the broker during meta-training ---------
        run, created = db(lambda: services.training_run_request(hyperparameters=TRAINING))
        log(f"training run {run.pk} requested; waiting for it to train")
        deadline = time.monotonic() + 180
        while (db(lambda: TrainingRun.objects.get(pk=run.pk).progress) or {}).get("percent", 0) < KILL_AT_PERCENT:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the training run never reached {KILL_AT_PERCENT} %: {worker.logfile}")
            time.sleep(0.5)
        progress = db(lambda: TrainingRun.objects.get(pk=run.pk).progress)
        log(f"SIGKILL the Celery worker at epoch {progress.get('epoch')} ({progress.get('percent')} %), and the broker")
        fault2 = time.monotonic()
        worker.kill()
        broker.kill()
        time.sleep(args.broker_down)
        broker.start()
        wait_port(args.broker_port, "redis")
        broker_back = time.monotonic()
        worker.start()
        log("broker and a fresh worker started")
        deadline = time.monotonic() + 300
        while db(lambda: TrainingRun.objects.get(pk=run.pk).status) not in ("succeeded", "failed"):
            if time.monotonic() > deadline:
                break
            time.sleep(1)
        run_done = time.monotonic()
        final = db(lambda: TrainingRun.objects.get(pk=run.pk))
        log(f"training run {run.pk}: {final.status} after {final.executions} execution(s)")
        time.sleep(args.after)
        stop.set()
        for s in students:
            s.join(timeout=60)
        poller.join(timeout=15)
        load_s = time.monotonic() - load_started
        time.sleep(3)  # the worker finishes the last refreshes

        # --- figures ---------------------------------------------------------------
        versions_of_run = db(lambda: ModelVersion.objects.filter(training_run_id=run.pk).count())
        runs_for_key = db(lambda: TrainingRun.objects.filter(request_key=final.request_key).count())
        active_after = db(lambda: list(ModelVersion.objects.filter(status="active").values_list("pk", flat=True)))
        acknowledged = Counter(journal.acknowledged)
        stored = Counter(
            db(
                lambda: list(
                    Attempt.objects.filter(student__username__startswith="load-student-").values_list(
                        "student__username", "idempotency_key"
                    )
                )
            )
        )
        lost = [k for k in acknowledged if stored[k] == 0]
        duplicated = [k for k in acknowledged if stored[k] > 1]
        unacknowledged = [k for k in stored if k not in acknowledged]

        def window(a: float, b: float, names: tuple = ()) -> dict:
            """Requests whose answer (or failure) came between a and b."""
            rows = [r for r in journal.requests if a <= r.t + r.ms / 1000 < b and (not names or r.name in names)]
            failed = Counter(f"{r.name} {r.status or 'no response'}" for r in rows if not r.ok)
            return {"requests": len(rows), "failed": sum(failed.values()), "failures": dict(failed)}

        end = time.monotonic() + 1
        next_item = ("practice page (next item)", "answer")
        health = poller.samples
        fault2_health = [s for s in health if fault2 <= s[0] < run_done]
        figures.update(
            {
                "load_s": round(load_s),
                "requests": window(0, end),
                "before_faults": window(0, db_killed),
                "database_down": window(db_killed, db_back),
                "database_recovering_10s": window(db_back, db_back + 10),
                "between_faults": window(db_back + 10, fault2),
                "broker_down": window(fault2, broker_back),
                "training_recovery": window(broker_back, run_done),
                "after_faults": window(run_done, end),
                "next_item_during_training_fault": window(fault2, run_done, next_item),
                "answers_acknowledged": len(acknowledged),
                "answers_acknowledged_twice": sum(1 for n in acknowledged.values() if n > 1),
                "answers_in_db_exactly_once": len(acknowledged) - len(lost) - len(duplicated),
                "answers_lost": len(lost),
                "answers_duplicated": len(duplicated),
                "answers_stored_without_ack": len(unacknowledged),
                "db_down_s": round(db_back - db_killed, 1),
                "training_run": final.pk,
                "training_killed_at": progress,
                "training_status": final.status,
                "training_executions": final.executions,
                "training_runs_for_request_key": runs_for_key,
                "model_versions_of_run": versions_of_run,
                "active_versions_after": active_after,
                "training_fault_to_done_s": round(run_done - fault2),
                "healthz_samples_training_fault": len(fault2_health),
                "healthz_without_active_version_training_fault": sum(1 for s in fault2_health if s[2] is None),
                "healthz_unanswered_training_fault": sum(1 for s in fault2_health if s[1] == 0),
                "healthz_reported_unavailable_training_fault": sum(1 for s in fault2_health if s[1] == 503),
                "healthz_active_versions_seen": sorted({s[2] for s in health if s[2] is not None}),
            }
        )
        figures["timeline_s"] = {
            name: round(t - t0, 1)
            for name, t in (
                ("load_started", load_started),
                ("db_killed", db_killed),
                ("db_back", db_back),
                ("worker_and_broker_killed", fault2),
                ("broker_back", broker_back),
                ("run_done", run_done),
            )
        }
        if lost:
            problems.append(f"{len(lost)} acknowledged answer(s) not in the database: {lost[:5]}")
        if duplicated:
            problems.append(f"{len(duplicated)} acknowledged answer(s) stored more than once: {duplicated[:5]}")
        if not acknowledged:
            problems.append("no answer was acknowledged: the run measured nothing")
        if not window(db_killed, db_back)["failed"]:
            problems.append("no request failed while the database was down: the fault did not bite")
        if final.status != "succeeded":
            problems.append(f"training run {final.pk} ended {final.status!r} ({final.error[:200]})")
        if versions_of_run != 1 or runs_for_key != 1:
            problems.append(
                f"{versions_of_run} model version(s) and {runs_for_key} run(s) for one request (want 1 and 1)"
            )
        if final.executions < 2:
            problems.append(f"the run executed {final.executions} time(s): the kill did not interrupt it")
        if len(active_after) != 1:
            problems.append(f"{len(active_after)} active model versions afterwards")
        if figures["healthz_without_active_version_training_fault"] or figures["healthz_unanswered_training_fault"]:
            problems.append("the active model stopped serving while the worker and broker were down")
        if window(fault2, run_done, next_item)["failed"]:
            problems.append("next-item requests failed while the worker and broker were down")
        if window(run_done, end)["failed"]:
            problems.append("requests still failed after both faults were over")
    finally:
        stop.set()
        for child in children:
            child.stop()
        pg.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    figures["problems"] = problems
    if "health" in locals():
        (out / "healthz.json").write_text(json.dumps([(round(t - t0, 1), c, v) for t, c, v in health]))
    (out / "figures.json").write_text(json.dumps(figures, indent=2, default=str))
    if args.json:
        print(json.dumps(figures, indent=2, default=str))
    else:
        print_table(figures)
    return 1 if problems else 0


def print_table(f: dict) -> None:
    print()
    print(f"{'window':34} {'requests':>9} {'failed':>7}")
    for key, label in (
        ("before_faults", "before the faults"),
        ("database_down", f"database down ({f['db_down_s']} s)"),
        ("database_recovering_10s", "first 10 s after the restart"),
        ("between_faults", "between the faults"),
        ("broker_down", "worker and broker down"),
        ("training_recovery", "fresh worker, training again"),
        ("after_faults", "after both faults"),
        ("requests", "whole run"),
        ("next_item_during_training_fault", "next item + answer, training fault"),
    ):
        print(f"{label:34} {f[key]['requests']:>9} {f[key]['failed']:>7}")
    print()
    rows = [
        ("students, seconds of load", f"{f['students']}, {f['load_s']} s"),
        ("answers acknowledged (200 + verdict)", f["answers_acknowledged"]),
        ("  in the database exactly once", f["answers_in_db_exactly_once"]),
        ("  lost", f["answers_lost"]),
        ("  duplicated", f["answers_duplicated"]),
        ("answers stored, client saw an error", f["answers_stored_without_ack"]),
        ("PostgreSQL processes SIGKILLed", f["db_processes_killed"]),
        ("training killed at", f"epoch {f['training_killed_at'].get('epoch')}"),
        ("training run status, executions", f"{f['training_status']}, {f['training_executions']}"),
        ("runs for the request key", f["training_runs_for_request_key"]),
        ("model versions of the run", f["model_versions_of_run"]),
        ("active versions afterwards", f["active_versions_after"]),
        ("kill to run done", f"{f['training_fault_to_done_s']} s"),
        ("/healthz during it: samples", f["healthz_samples_training_fault"]),
        (
            "  unanswered or no active model",
            f["healthz_unanswered_training_fault"] + f["healthz_without_active_version_training_fault"],
        ),
        ("  reporting the broker down (503)", f["healthz_reported_unavailable_training_fault"]),
    ]
    for label, value in rows:
        print(f"{label:38} {value}")
    print()
    for problem in f["problems"]:
        print(f"CHECK FAILED: {problem}")
    print("all checks passed" if not f["problems"] else f"{len(f['problems'])} check(s) failed")
    print(f"logs: {f['logs']}")


if __name__ == "__main__":
    sys.exit(main())
