"""Run the demo: the Django web server and a real Celery worker, stopped together by Ctrl-C."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from tutor.demo import DEMO_STUDENTS, DEMO_TEACHER


class Command(BaseCommand):
    help = "Start the web server and a Celery worker (all queues) on the configured database and broker."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, port: int, host: str, **options):
        # Ctrl-C and a plain `kill` both stop the demo, even where the shell started us ignoring SIGINT.
        signal.signal(signal.SIGINT, _interrupt)
        signal.signal(signal.SIGTERM, _interrupt)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tutor",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "1",
                "--queues",
                "default,metatrain,adapt",
                "--beat",
                "--schedule",
                str(settings.CELERY_BEAT_SCHEDULE_FILENAME),
                "--hostname",
                "demo@%h",
            ],
            env=env,
            start_new_session=True,  # its own process group: stopping it reaches its pool and beat too
        )
        web = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"{host}:{port}"], env=env, start_new_session=True
        )
        self.stdout.write(
            f"\nMetis demo at http://{host}:{port}/  (health: http://{host}:{port}/healthz)\n"
            f"  teacher: {DEMO_TEACHER}\n  students: {DEMO_STUDENTS[0]} .. {DEMO_STUDENTS[-1]} "
            f"({DEMO_STUDENTS[-1]} starts fresh)\n  password: {settings.DEMO_PASSWORD}\n"
            "Ctrl-C stops the web server and the worker.\n"
        )
        if options["verbosity"] >= 2:
            self.stdout.write(f"demo-child-pid {worker.pid}\ndemo-child-pid {web.pid}")
        procs = {"web server": web, "worker": worker}
        try:
            while True:
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"the {name} exited with code {proc.returncode}; stopping the demo")
                        return
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.stdout.write("\nstopping...")
        finally:
            for proc in procs.values():
                _signal_group(proc, signal.SIGTERM)
            for proc in procs.values():
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    pass
                _signal_group(proc, signal.SIGKILL)  # whatever of the group outlived a warm shutdown


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _interrupt(signum, frame):
    raise KeyboardInterrupt
