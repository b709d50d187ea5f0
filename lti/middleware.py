"""Cookies and framing for sessions that began with an LTI launch, and only those.

Inside an LMS, Metis runs in an iframe of another site: the browser sends the session and CSRF cookies there only
if they are ``SameSite=None; Secure`` (and, where third-party cookies are blocked, ``Partitioned``), and the page shows only if framing is allowed. A session started by a launch
(it carries ``lti`` in the session) gets exactly that, with framing limited to the platform's own origins; every
other session keeps the site-wide ``SameSite=Lax`` and ``X-Frame-Options: DENY``.
"""

from __future__ import annotations

import typing as t

from django.conf import settings
from django.http import HttpRequest, HttpResponse

SESSION_KEY = "lti"


class LtiFrameMiddleware:
    """Goes just outside SessionMiddleware, so it sees the cookies the session and CSRF layers set."""

    def __init__(self, get_response: t.Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        # Only a session the view already read (a page, not /healthz or the keyset), and never a second try at
        # one that could not be read: this layer must not turn a database outage into a different error.
        if session is None or not session.accessed:
            return response
        try:
            lti = session.get(SESSION_KEY)
        except Exception:
            return response
        if not lti:
            return response
        if request.is_secure():
            for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
                if name in response.cookies and response.cookies[name].value:
                    # Partitioned (CHIPS): a browser that blocks third-party cookies still keeps these, for the
                    # LMS's site only. Python's http.cookies knows the attribute only from 3.14, hence the suffix.
                    response.cookies[name]["samesite"] = "None; Partitioned"
                    response.cookies[name]["secure"] = True
        if "X-Frame-Options" in response:
            del response["X-Frame-Options"]
        origins = " ".join(lti.get("frame_origins", []))
        response["Content-Security-Policy"] = f"frame-ancestors 'self' {origins}".strip()
        return response
