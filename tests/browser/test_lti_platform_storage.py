"""In Chromium with third-party cookies blocked, an LMS page frames Metis and the LTI launch still works: the login
page stores state and nonce in the LMS's frame by postMessage (lti.put_data), the launch page reads them back
(lti.get_data), and the student lands in practice inside the frame.

The LMS (https://lms.example.edu) is played by Playwright routes: its course page (an iframe plus a small
platform-storage listener) and its OIDC authentication endpoint, which posts an id_token signed by the test
platform's key (tests/lti/platform.py) to Metis's launch URL. Metis fetches that platform's keyset through
``lti.tool.http_session``, patched as in tests/lti. Metis runs on the live server (http://localhost, which
Chromium treats as a secure origin); ``X-Forwarded-Proto: https`` makes Django treat it as HTTPS, so its LTI
cookies are ``SameSite=None; Secure; Partitioned`` as in production.
"""

from __future__ import annotations

import json
import shutil
import typing as t
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from lti.models import LaunchNonce, LtiUser
from tests.lti.platform import BASE, CLAIM
from tests.lti.registered import register_test_platform
from tutor.models import PracticeSession, Section

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COURSE_PAGE = """<!doctype html><html><head><title>Course 7</title></head><body>
<h1>Course 7</h1>
<iframe name="tool" id="tool" title="Metis" style="width:400px;height:600px"></iframe>
<script>
  // The platform's side of LTI Platform Storage: data kept per tool origin, for this page's life.
  window.ltiLog = [];
  const store = {};
  window.addEventListener("message", (event) => {
    const data = event.data;
    if (!data || typeof data !== "object" || !data.subject) return;
    window.ltiLog.push(data.subject);
    if (SILENT) return;  // an LMS that sends lti_storage_target but does not answer
    const reply = (message) => event.source.postMessage({ ...message, message_id: data.message_id }, event.origin);
    const mine = (store[event.origin] = store[event.origin] || {});
    if (data.subject === "lti.capabilities") {
      reply({ subject: "lti.capabilities.response",
              supported_messages: [{ subject: "lti.put_data" }, { subject: "lti.get_data" }] });
    } else if (data.subject === "lti.put_data") {
      mine[data.key] = data.value;
      reply({ subject: "lti.put_data.response", key: data.key, value: data.value });
    } else if (data.subject === "lti.get_data") {
      const value = mine[data.key];
      reply({ subject: "lti.get_data.response", key: data.key, value: TAMPER && value ? value + "-x" : value });
    }
  });
  document.getElementById("tool").src = LOGIN_URL;
</script></body></html>"""

AUTH_PAGE = """<!doctype html><html><body>
<form method="post" action="{action}" id="f">{fields}</form>
<script>document.getElementById("f").submit();</script></body></html>"""


@pytest.fixture
def blocking_browser(browser):
    """Chromium blocking third-party cookies. Playwright's contexts already do (as Chrome's incognito windows do);
    Chrome's own switch for testing exactly that makes it explicit. The test checks it took effect: the launch
    goes through the platform's storage only when the state cookie did not come back.

    Launched from the suite's one Playwright instance (the session ``browser`` fixture's): a second
    ``sync_playwright()`` in the same thread fails while the first is running."""
    special = browser.browser_type.launch(
        executable_path=shutil.which("chromium") or shutil.which("chromium-browser"),
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--test-third-party-cookie-phaseout",
            # the LMS is a public origin in the browser's eyes; Metis runs on localhost
            "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests",
        ],
    )
    yield special
    special.close()


@dataclass
class Lms:
    """The LMS's course page framing Metis, in a browser that blocks third-party cookies."""

    page: t.Any
    section: Section
    launch_posts: list[dict[str, str]]


@pytest.fixture
def open_course(live_server, blocking_browser, settings, monkeypatch, artifacts_dir):
    settings.SITE_URL = live_server.url
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    platform, _, section = register_test_platform(monkeypatch)
    login_url = f"{live_server.url}/lti/login/?" + urlencode(
        {
            "iss": platform.issuer,
            "login_hint": "opaque-user-hint",
            "target_link_uri": live_server.url + "/lti/launch/",
            "client_id": platform.client_id,
            "lti_storage_target": "_parent",
        }
    )

    def authenticate(route):
        query = {k: v[0] for k, v in parse_qs(urlsplit(route.request.url).query).items()}
        claims = platform.claims(nonce=query["nonce"], **{CLAIM + "custom": {"metis_class": str(section.pk)}})
        fields = {"id_token": platform.sign(claims), "state": query["state"], "lti_storage_target": "_parent"}
        inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
        route.fulfill(
            status=200, content_type="text/html", body=AUTH_PAGE.format(action=query["redirect_uri"], fields=inputs)
        )

    context = blocking_browser.new_context(extra_http_headers={"X-Forwarded-Proto": "https"})
    shots: list[tuple[t.Any, str]] = []

    def open_(*, tamper: bool = False, silent: bool = False, shot: str) -> Lms:
        course_page = (
            COURSE_PAGE.replace("LOGIN_URL", json.dumps(login_url))
            .replace("TAMPER", json.dumps(tamper))
            .replace("SILENT", json.dumps(silent))
        )
        context.route(
            f"{BASE}/courses/7", lambda route: route.fulfill(status=200, content_type="text/html", body=course_page)
        )
        context.route(f"{BASE}/oidc/auth?*", authenticate)
        page = context.new_page()
        page.set_default_timeout(20_000)
        launch_posts: list[dict[str, str]] = []

        def seen(request) -> None:
            if request.url.endswith("/lti/launch/") and request.method == "POST":
                launch_posts.append(dict(request.headers))

        page.on("request", seen)
        page.goto(f"{BASE}/courses/7")
        shots.append((page, shot))
        return Lms(page=page, section=section, launch_posts=launch_posts)

    yield open_
    for page, name in shots:
        page.screenshot(path=str(artifacts_dir / name))
    context.close()


def _count(page, subject: str) -> int:
    return page.evaluate(f"window.ltiLog.filter(s => s === {json.dumps(subject)}).length")


def test_a_framed_launch_without_third_party_cookies_works_through_platform_storage(open_course, live_server):
    lms = open_course(shot="lti-platform-storage.png")
    lms.page.frame_locator("#tool").get_by_label("Your answer").wait_for()  # practice, inside the LMS's frame
    # The state cookie did not come back (blocked), so the launch went through the platform's storage ...
    assert _count(lms.page, "lti.put_data") == 2 and _count(lms.page, "lti.get_data") == 2
    assert len(lms.launch_posts) == 2 and lms.launch_posts[1].get("x-metis-platform-storage") == "checked"
    # ... and used the nonce up; the student is in practice in the linked class.
    assert LaunchNonce.objects.get().used_at is not None
    assert PracticeSession.objects.filter(section=lms.section).count() == 1


def test_a_state_the_platform_storage_does_not_hold_stops_the_launch(open_course):
    lms = open_course(tamper=True, shot="lti-platform-storage-refused.png")
    frame = lms.page.frame_locator("#tool")
    frame.get_by_text("this launch did not start in this browser").wait_for()
    assert _count(lms.page, "lti.get_data") == 2
    assert len(lms.launch_posts) == 1  # the page never asked Metis to complete the launch
    assert LaunchNonce.objects.get().used_at is None
    assert not PracticeSession.objects.exists() and not LtiUser.objects.exists()


def test_an_lms_that_does_not_answer_gets_open_in_a_new_tab(open_course):
    lms = open_course(silent=True, shot="lti-platform-storage-silent.png")
    frame = lms.page.frame_locator("#tool")
    frame.get_by_text("the LMS did not answer lti.put_data").wait_for()
    link = frame.get_by_role("link", name="Open Metis in a new tab.")
    href = link.get_attribute("href") or ""
    assert href.startswith("/lti/login/?") and "lti1p3_new_window=1" in href and "lti_storage_target" not in href
    assert not lms.launch_posts and LaunchNonce.objects.get().used_at is None
