"""Simulated students and teachers for ``make loadtest`` (scripts/loadtest/run.sh starts everything).

A student logs in, starts a session in their class, plans it, and answers item after item with a confidence
rating, thinking 5-15 s between steps; after a confident wrong answer they write what made it wrong; at the
end they write an evaluation and a summary and read the session summary, then start again. One answer in
ten is sent twice with the same idempotency key (a double click). A teacher opens their dashboards.

The server is addressed as a TLS proxy would forward it (``X-Forwarded-Proto: https``), so production
settings (secure cookies, SSL redirect, strict CSRF origin checks) apply unchanged. Every answer the server
acknowledged (2xx with a verdict) is appended to ``$LOAD_SUBMIT_LOG`` as ``username,idempotency_key`` for
``report.py`` to find in the database afterwards. Every request is appended to ``$LOAD_TIMINGS`` as
``start_time,name,response_time_ms,failed``, so ``report.py`` can show the login ramp and the steady state
apart.
"""

from __future__ import annotations

import html
import itertools
import os
import random
import re
import threading

from locust import HttpUser, between, events, task

PASSWORD = os.environ["LOAD_PASSWORD"]
STUDENTS = int(os.environ["LOAD_STUDENTS"])
TEACHERS = int(os.environ["LOAD_TEACHERS"])
SUBMIT_LOG = os.environ["LOAD_SUBMIT_LOG"]
TIMINGS = open(os.environ["LOAD_TIMINGS"], "a", encoding="utf-8")  # noqa: SIM115 - open for the whole run

_students = itertools.count(1)
_teachers = itertools.count(1)
_log_lock = threading.Lock()

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ANSWER_FORM = re.compile(r'action="(/practice/\d+/items/\d+/answer/)"')
IDEMPOTENCY = re.compile(r'name="idempotency_key" value="([^"]+)"')
CHOICE = re.compile(r'type="radio" name="answer" value="([^"]*)"')
CONFIDENCE = re.compile(r'type="radio" name="confidence" value="([^"]*)"')
PLAN_FORM = re.compile(r'action="(/metacog/sessions/\d+/plan/)"')
START_FORM = re.compile(r'action="(/practice/start/\d+/)"')
ITEM_REFLECT = re.compile(r'action="(/metacog/sessions/\d+/items/\d+/reflect/)"')
SESSION_REFLECT = re.compile(r'action="(/metacog/sessions/\d+/reflect/)"')
END_FORM = re.compile(r'action="(/practice/\d+/end/)"')
CLASS_LINK = re.compile(r'href="(/classes/\d+/)"')
STUDENT_LINK = re.compile(r'href="(/students/\d+/attempts/)"')
# What a student types when the item is not multiple choice, in the order they would try: a number, a
# fraction, an expression in one of the usual letters, a word. An answer the checker cannot read (e.g. a word
# for a number) is refused with 422 naming the field, and the student types the next one.
TYPED = ["7", "3/4", "x + 1", "n + 1", "a + 1", "y + 1", "p + 1", "t + 1", "photosynthesis"]


@events.request.add_listener
def _timing(name: str, response_time: float, exception: BaseException | None, start_time: float, **_) -> None:
    TIMINGS.write(f"{start_time:.3f},{name},{response_time:.1f},{int(exception is not None)}\n")


@events.quitting.add_listener
def _timings_flush(**_) -> None:
    TIMINGS.flush()


def _insecure_cookies(user: HttpUser) -> None:
    """The cookie jar would send Secure cookies over https only; here the TLS proxy is simulated on loopback."""
    for cookie in user.client.cookies:
        cookie.secure = False


class Browser(HttpUser):
    abstract = True

    def on_start(self) -> None:
        host = self.host.rstrip("/")
        self.client.headers.update({"X-Forwarded-Proto": "https", "Origin": host.replace("http://", "https://")})
        self.csrf = ""

    def page(self, url: str, name: str, **kwargs):
        response = self.client.get(url, name=name, **kwargs)
        self._remember(response)
        return response

    def post(self, url: str, data: dict, name: str, **kwargs):
        headers = {"X-CSRFToken": self.csrf, "Referer": self.host.replace("http://", "https://") + url}
        headers.update(kwargs.pop("headers", {}))
        response = self.client.post(url, data=data, name=name, headers=headers, **kwargs)
        self._remember(response)
        return response

    def _remember(self, response) -> None:
        """Every page that shows a form sets the CSRF cookie again (Secure): keep it sendable, and the token."""
        _insecure_cookies(self)
        found = CSRF.search(response.text or "")
        if found:
            self.csrf = found.group(1)

    def log_in(self, username: str) -> None:
        self.page("/login/", name="login page")
        self.post("/login/", {"username": username, "password": PASSWORD}, name="login")


class Student(Browser):
    weight = 20
    wait_time = between(5, 15)

    def on_start(self) -> None:
        super().on_start()
        self.username = f"load-student-{(next(_students) - 1) % STUDENTS + 1:04d}"
        self.log_in(self.username)
        self.next_step = self.begin_session

    @task
    def step(self) -> None:
        self.next_step()

    def begin_session(self) -> None:
        home = self.page("/", name="home")
        start = START_FORM.search(home.text)
        if not start:
            return
        practice = self.post(start.group(1), {}, name="start session")
        self.session_url = practice.url.split("?")[0]
        self.after_page(practice.text)

    def item(self) -> None:
        response = self.page(self.session_url, name="practice page")
        if "/summary/" in response.url:
            self.reflect_on_session(response.text)
            return
        self.after_page(response.text)

    def after_page(self, text: str) -> None:
        plan = PLAN_FORM.search(text)
        if plan and random.random() < 0.8:
            self.form = text
            self.next_step = lambda: self.make_plan(plan.group(1))
        elif ANSWER_FORM.search(text):
            self.form = text
            self.next_step = self.answer
        else:
            self.next_step = self.begin_session

    def make_plan(self, url: str) -> None:
        data = {"goal": "Get most of them right", "strategy": ""}
        self.post(url, data, name="plan", headers={"HX-Request": "true"})
        self.next_step = self.answer

    def answer(self) -> None:
        url, key = ANSWER_FORM.search(self.form).group(1), IDEMPOTENCY.search(self.form).group(1)
        choices = [html.unescape(c) for c in CHOICE.findall(self.form)]
        confidence = random.choice(CONFIDENCE.findall(self.form) or ["0.5"])
        typed = [random.choice(choices)] if choices else TYPED
        for n, answer in enumerate(typed):
            data = {"answer": answer, "confidence": confidence, "idempotency_key": key, "checked": "1"}
            name = "answer" if n == 0 else "answer (typed again after 422)"
            with self.client.post(
                url,
                data=data,
                name=name,
                headers={"X-CSRFToken": self.csrf, "HX-Request": "true"},
                catch_response=True,
            ) as response:
                self._remember(response)
                if response.status_code == 422 and 'role="alert"' in response.text:
                    response.success()  # the checker could not read it: the page asks again, naming the field
                    continue
                if response.status_code == 200 and 'class="verdict"' in response.text:
                    self._acknowledged(key)
                    if random.random() < 0.1:  # a double click: the same key again must not count twice
                        self.post(url, data, name="answer (sent twice)")
                    self.feedback(response.text)
                    return
                response.failure(f"unexpected answer response {response.status_code}")
                self.next_step = self.item
                return
        self.next_step = self.item

    def _acknowledged(self, key: str) -> None:
        with _log_lock, open(SUBMIT_LOG, "a", encoding="utf-8") as log:
            log.write(f"{self.username},{key}\n")

    def feedback(self, text: str) -> None:
        reflect, end = ITEM_REFLECT.search(text), END_FORM.search(text)
        if reflect and 'value="confident_error"' in text:
            url = reflect.group(1)
            self.next_step = lambda: self.note_error(url, end.group(1) if end else None)
        elif end:
            url = end.group(1)
            self.next_step = lambda: self.end(url)
        else:
            self.next_step = self.item

    def note_error(self, url: str, end: str | None) -> None:
        data = {"kind": "confident_error", "answer": "I did not check the sign"}
        self.post(url, data, name="reflection", headers={"HX-Request": "true"})
        self.next_step = (lambda: self.end(end)) if end else self.item

    def end(self, url: str) -> None:
        response = self.post(url, {}, name="end session")
        self.reflect_on_session(response.text)

    def reflect_on_session(self, text: str) -> None:
        reflect = SESSION_REFLECT.search(text)
        if reflect:
            url = reflect.group(1)
            self.post(
                url, {"kind": "evaluation", "answer": "Planning", "second_answer": "Slow down"}, name="reflection"
            )
            self.post(url, {"kind": "summary", "answer": "Fractions need a common denominator"}, name="reflection")
        self.next_step = self.begin_session


class Teacher(Browser):
    weight = 1
    wait_time = between(10, 30)

    def on_start(self) -> None:
        super().on_start()
        self.log_in(f"load-teacher-{(next(_teachers) - 1) % TEACHERS + 1:02d}")

    @task
    def dashboards(self) -> None:
        home = self.page("/", name="teacher: home")
        for link in CLASS_LINK.findall(home.text)[:1]:
            overview = self.page(link, name="teacher: class overview")
            self.page(link.replace("/classes/", "/metacog/classes/"), name="teacher: reflections overview")
            students = STUDENT_LINK.findall(overview.text)
            if students:
                self.page(random.choice(students), name="teacher: student attempts")
