"""Simulated students for ``make faultcheck``: plain threads with a ``requests`` session each.

A student logs in, starts a session in their class, plans it when asked, and answers item after item with a
confidence rating, thinking ``think`` seconds between steps. An answer the server fails (5xx, timeout, refused
connection) is sent again with the same idempotency key, as a browser's retry would, up to ``ANSWER_TRIES``
times. Every answer acknowledged (200 with a verdict) is remembered as (username, idempotency key); every
request is logged with its time, so the figures can be split by fault window afterwards.
"""

from __future__ import annotations

import html
import random
import re
import threading
import time
from dataclasses import dataclass, field

import requests

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ANSWER_FORM = re.compile(r'action="(/practice/\d+/items/\d+/answer/)"')
IDEMPOTENCY = re.compile(r'name="idempotency_key" value="([^"]+)"')
CHOICE = re.compile(r'type="radio" name="answer" value="([^"]*)"')
CONFIDENCE = re.compile(r'type="radio" name="confidence" value="([^"]*)"')
PLAN_FORM = re.compile(r'action="(/metacog/sessions/\d+/plan/)"')
START_FORM = re.compile(r'action="(/practice/start/\d+/)"')
TYPED = ["7", "3/4", "x + 1", "n + 1", "a + 1", "y + 1", "p + 1", "t + 1", "photosynthesis"]
ANSWER_TRIES = 5
TIMEOUT_S = 35  # above gunicorn's 30 s worker timeout: a hung request shows as the server's failure


class Failed(Exception):
    """A request the server did not answer as a working site would (5xx, refused, timed out, wrong page)."""


@dataclass
class Request:
    t: float  # time.monotonic() when sent
    name: str
    ok: bool
    status: int  # 0: no HTTP response (refused, reset, timed out)
    ms: float


@dataclass
class Journal:
    """What all students saw; appended to from many threads."""

    requests: list[Request] = field(default_factory=list)
    acknowledged: list[tuple[str, str]] = field(default_factory=list)  # (username, idempotency key)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, request: Request) -> None:
        with self.lock:
            self.requests.append(request)

    def acknowledge(self, username: str, key: str) -> None:
        with self.lock:
            self.acknowledged.append((username, key))


class Student(threading.Thread):
    def __init__(
        self, *, host: str, username: str, password: str, journal: Journal, stop: threading.Event, think: tuple
    ) -> None:
        super().__init__(daemon=True, name=username)
        self.host, self.username, self.password = host.rstrip("/"), username, password
        self.journal, self.stop, self.think = journal, stop, think
        self.http = requests.Session()
        # Addressed as a TLS proxy forwards it, so production settings (secure cookies, CSRF origin) apply.
        self.http.headers.update({"X-Forwarded-Proto": "https", "Origin": self.host.replace("http://", "https://")})
        self.csrf = ""
        self.logged_in = False
        self.session_url = ""

    # --- HTTP ---------------------------------------------------------------

    def _send(self, method: str, path: str, name: str, *, ok=lambda r: r.status_code < 400, **kwargs):
        started = time.monotonic()
        try:
            response = self.http.request(method, self.host + path, timeout=TIMEOUT_S, **kwargs)
        except requests.RequestException as exc:
            self.journal.add(Request(started, name, False, 0, (time.monotonic() - started) * 1000))
            raise Failed(f"{name}: {type(exc).__name__}") from None
        good = ok(response)
        self.journal.add(Request(started, name, good, response.status_code, (time.monotonic() - started) * 1000))
        for cookie in self.http.cookies:  # Secure cookies would only go back over https; the proxy is simulated
            cookie.secure = False
        found = CSRF.search(response.text or "")
        if found:
            self.csrf = found.group(1)
        if not good:
            raise Failed(f"{name}: HTTP {response.status_code}")
        if "/login/" in response.url and not path.startswith("/login/"):
            self.logged_in = False
            raise Failed(f"{name}: sent to the login page")
        return response

    def get(self, path: str, name: str):
        return self._send("GET", path, name)

    def post(self, path: str, data: dict, name: str, headers: dict | None = None, **kwargs):
        headers = {
            "X-CSRFToken": self.csrf,
            "Referer": self.host.replace("http://", "https://") + path,
            **(headers or {}),
        }
        return self._send("POST", path, name, data=data, headers=headers, **kwargs)

    # --- the student --------------------------------------------------------

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                if not self.logged_in:
                    self.get("/login/", "login page")
                    page = self.post("/login/", {"username": self.username, "password": self.password}, "login")
                    self.logged_in = "/login/" not in page.url
                    if not self.logged_in:
                        raise Failed("login refused")
                self.practise()
            except Failed:
                self.session_url = ""  # start over from the home page, as a student reloading would
            self.stop.wait(random.uniform(*self.think))

    def practise(self) -> None:
        if not self.session_url:
            home = self.get("/", "home")
            start = START_FORM.search(home.text)
            if not start:
                raise Failed("home: no class to start")
            page = self.post(start.group(1), {}, "start session")
            self.session_url = page.url.replace(self.host, "").split("?")[0]
        else:
            page = self.get(self.session_url, "practice page (next item)")
        if "/summary/" in page.url:
            self.session_url = ""
            return
        plan = PLAN_FORM.search(page.text)
        if plan:
            self.post(plan.group(1), {"goal": "Get most of them right", "strategy": ""}, "plan", {"HX-Request": "true"})
            self.stop.wait(random.uniform(*self.think))
            page = self.get(self.session_url, "practice page (next item)")
        if ANSWER_FORM.search(page.text):
            self.stop.wait(random.uniform(*self.think))
            self.answer(page.text)
        else:
            self.session_url = ""

    def answer(self, form: str) -> None:
        url, key = ANSWER_FORM.search(form).group(1), IDEMPOTENCY.search(form).group(1)
        choices = [html.unescape(c) for c in CHOICE.findall(form)]
        confidence = random.choice(CONFIDENCE.findall(form) or ["0.5"])
        typed = iter([random.choice(choices)] if choices else TYPED)
        answer = next(typed)
        tries = 0
        while tries < ANSWER_TRIES:
            data = {"answer": answer, "confidence": confidence, "idempotency_key": key, "checked": "1"}
            try:
                response = self.post(
                    url,
                    data,
                    "answer",
                    {"HX-Request": "true"},
                    ok=lambda r: r.status_code < 400 or r.status_code == 422,
                )
            except Failed:
                if not self.logged_in:
                    raise
                tries += 1
                time.sleep(1.0)  # the same key again: it must count once whatever happened to the first
                continue
            if response.status_code == 422:  # the checker could not read it: type the next kind of answer
                answer = next(typed, None)
                if answer is None:
                    return
                continue
            if 'class="verdict"' not in response.text:
                self.journal.add(Request(time.monotonic(), "answer without a verdict", False, response.status_code, 0))
                raise Failed("answer: 2xx without a verdict")
            self.journal.acknowledge(self.username, key)
            return
        raise Failed("answer: no acknowledgement after retries")
