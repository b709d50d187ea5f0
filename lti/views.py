"""LTI 1.3 endpoints: keyset, OIDC login initiation, launch, and the teacher's class picker. Thin: parse, call
lti.services, render; every refusal is a plain page with a 4xx status that says why."""

from __future__ import annotations

import re
import typing as t
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from pylti1p3.exception import LtiException, OIDCException

from tutor.http import AuthedRequest

from . import registration, selectors, services
from .middleware import SESSION_KEY
from .models import Platform
from .tool import LaunchRefused, MetisMessageLaunch, MetisOIDCLogin, PlatformStorage, oidc_login

# LTI Platform Storage: the frame the platform names for its storage ("_parent", or a frame of the parent page).
STORAGE_TARGET = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
# The header Metis's launch page (static/js/lti-storage.js) sends once it found state and nonce in that storage.
STORAGE_HEADER = "X-Metis-Platform-Storage"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _refused(request: HttpRequest, exc: LaunchRefused) -> HttpResponse:
    response = render(request, "lti/refused.html", {"message": exc.message}, status=exc.status)
    response.xframe_options_exempt = True
    return response


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(selectors.tool_jwks())
    response["Cache-Control"] = "public, max-age=300"
    return response


@csrf_exempt
@xframe_options_exempt  # its cookie-check page shows inside the LMS's frame
@never_cache
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    """OIDC third-party login initiation: the platform names itself; Metis answers with a redirect to the platform's
    authentication URL carrying a state (also set as a cookie) and a nonce."""
    params = request.POST if request.method == "POST" else request.GET
    missing = [name for name in ("iss", "login_hint", "target_link_uri") if not params.get(name)]
    if missing:
        return _refused(request, LaunchRefused(f"The login request lacks {', '.join(missing)}."))
    try:
        flow = oidc_login(request, services.tool_config())
        flow.validate_oidc_login()  # an unknown platform is told so at once, not after the cookie check
        target = params.get("lti_storage_target", "")
        if target:
            if not STORAGE_TARGET.fullmatch(target):
                return _refused(request, LaunchRefused("lti_storage_target must be _parent or the name of a frame."))
            return _storage_login(request, flow, target)
        # First a page that checks the browser keeps Metis's cookies in the LMS's frame; if it does not (third-party
        # cookies blocked), the student gets a link to open Metis in a new tab instead of a refused launch.
        flow.enable_check_cookies(
            main_msg="Your browser blocks Metis's cookies inside the LMS page.",
            click_msg="Open Metis in a new tab.",
            loading_msg="Opening Metis…",
        )
        return flow.redirect(settings.SITE_URL + reverse("lti:launch"))
    except (OIDCException, LtiException) as exc:
        return _refused(request, LaunchRefused(f"Login refused: {exc}. Is this platform registered in Metis?"))


def _storage_page(request: HttpRequest, config: dict[str, str], fallback: str = "") -> HttpResponse:
    response = render(request, "lti/storage.html", {"config": config, "fallback": fallback})
    response.xframe_options_exempt = True
    return response


def _storage_login(request: HttpRequest, flow: MetisOIDCLogin, target: str) -> HttpResponse:
    """LTI Platform Storage: a page that stores state and nonce in the platform's frame, then goes on to the
    platform's authentication URL. If the platform does not answer, the page offers Metis in a new tab."""
    url, state, nonce = flow.storage_redirect_url(settings.SITE_URL + reverse("lti:launch"))
    _, params = flow.get_cookies_allowed_js_check_params()  # the same login, in a new tab, without the check
    config = {"step": "login", "target": target, "origin": _origin(url), "state": state, "nonce": nonce, "next": url}
    return flow.cookies_add(_storage_page(request, config, fallback=reverse("lti:login") + "?" + urlencode(params)))


def _storage_launch(request: HttpRequest, message: MetisMessageLaunch, platform: Platform) -> HttpResponse:
    """The page that reads state and nonce back from the platform's frame and, if they match, asks Metis to
    complete the launch (lti.tool: "check", then "confirmed")."""
    config = {
        "step": "launch",
        "target": request.POST["lti_storage_target"],
        "origin": _origin(platform.auth_login_url),
        "state": request.POST["state"],
        "nonce": message.body()["nonce"],
        "next": reverse("lti:launch"),
        "id_token": request.POST["id_token"],
    }
    return _storage_page(request, config)


def _from_metis_page(request: HttpRequest) -> bool:
    """A request made by a script of Metis's own pages: a cross-site form cannot send STORAGE_HEADER, and a script
    elsewhere cannot send it here without a CORS permission Metis never gives; the Origin must be Metis's too."""
    same_site = request.headers.get("Sec-Fetch-Site", "same-origin") == "same-origin"
    return same_site and request.headers.get("Origin") == _origin(settings.SITE_URL)


def _frame_origins(platform: Platform, body: t.Mapping[str, t.Any]) -> list[str]:
    presentation = body.get(services.CLAIM + "launch_presentation") or {}
    settings_claim = body.get(services.DL_SETTINGS_CLAIM) or {}
    urls = [
        platform.issuer,
        platform.auth_login_url,
        presentation.get("return_url"),
        settings_claim.get("deep_link_return_url"),
    ]
    origins = []
    for url in urls:
        parts = urlsplit(str(url or ""))
        if parts.scheme in ("http", "https") and parts.netloc:
            origins.append(f"{parts.scheme}://{parts.netloc}")
    return sorted(set(origins))


@csrf_exempt
@xframe_options_exempt  # the platform-storage page shows inside the LMS's frame; redirects show nothing
@never_cache
@require_POST
def launch(request: HttpRequest) -> HttpResponse:
    state = request.POST.get("state", "")
    storage: PlatformStorage = None
    if request.headers.get(STORAGE_HEADER) == "checked":
        if not _from_metis_page(request):
            return JsonResponse({"error": "Only Metis's own launch page may confirm a launch."}, status=403)
        storage = "confirmed"
    elif request.POST.get("lti_storage_target") and f"lti1p3-{state}" not in request.COOKIES:
        # No state cookie (the browser blocks Metis's cookies in the LMS's frame): the platform's storage has it.
        if not STORAGE_TARGET.fullmatch(request.POST["lti_storage_target"]):
            return _refused(request, LaunchRefused("lti_storage_target must be _parent or the name of a frame."))
        storage = "check"
    try:
        message, platform = services.launch_validate(request=request, platform_storage=storage)
        if storage == "check":
            return _storage_launch(request, message, platform)
        body = message.body()
        outcome = services.launch_accept(platform=platform, body=body)
    except LaunchRefused as exc:
        if storage == "confirmed":
            return JsonResponse({"error": exc.message}, status=exc.status)
        return _refused(request, exc)
    auth_login(request, outcome.user, backend=settings.AUTHENTICATION_BACKENDS[0])
    # A new session id at every launch: login() keeps the id when the same person is already signed in.
    request.session.cycle_key()
    request.session[SESSION_KEY] = {"platform": platform.pk, "frame_origins": _frame_origins(platform, body)}
    if outcome.kind == "practice":
        assert outcome.session is not None
        location = reverse("practice", kwargs={"session_id": outcome.session.pk})
    elif outcome.kind == "class":
        assert outcome.section is not None
        location = reverse("class_overview", kwargs={"section_id": outcome.section.pk})
    else:
        launch_id = message.get_launch_id()
        request.session[f"lti-launch-{launch_id}"] = {
            "body": body,
            "kind": outcome.kind,
            "platform": platform.pk,
            "link": outcome.resource_link.pk if outcome.resource_link else None,
            "user": outcome.user.pk,
        }
        location = reverse("lti:pick", kwargs={"launch_id": launch_id})
    # The launch page of a storage-checked launch goes on to the location itself.
    response: HttpResponse = JsonResponse({"location": location}) if storage else redirect(location)
    response.delete_cookie(f"lti1p3-{state}", samesite="None" if request.is_secure() else None)
    return response


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def pick(request: AuthedRequest, launch_id: str) -> HttpResponse:
    """A teacher chooses the Metis class for a new placement (deep linking) or for a placement without one."""
    stored = request.session.get(f"lti-launch-{launch_id}")
    if not stored or stored.get("user") != request.user.pk:
        return _refused(
            request, LaunchRefused("This launch is over or is not yours; launch again from the LMS.", status=404)
        )
    platform = Platform.objects.select_related("organisation").filter(pk=stored["platform"], is_active=True).first()
    if platform is None:
        return _refused(request, LaunchRefused("This LMS is no longer registered in Metis.", status=404))
    sections = services.sections_to_pick(user=request.user, platform=platform)
    error = None
    if request.method == "POST":
        try:
            if stored["kind"] == "deep_link":
                jwt, return_url = services.deep_link_response(
                    user=request.user,
                    platform=platform,
                    launch_body=stored["body"],
                    section_id=request.POST.get("class"),
                )
                del request.session[f"lti-launch-{launch_id}"]
                return render(request, "lti/deep_link_return.html", {"jwt": jwt, "return_url": return_url})
            section = services.resource_link_attach(
                user=request.user, platform=platform, link_id=stored["link"], section_id=request.POST.get("class")
            )
            del request.session[f"lti-launch-{launch_id}"]
            return redirect("class_overview", section_id=section.pk)
        except LaunchRefused as exc:
            if exc.status != 400:
                return _refused(request, exc)
            error = exc.message
    return render(
        request,
        "lti/pick.html",
        {"sections": sections, "kind": stored["kind"], "error": error, "platform": platform},
        status=400 if error else 200,
    )


@xframe_options_exempt  # the LMS opens this page in a frame of its own admin screens
@never_cache
@require_GET
def register(request: HttpRequest, token: str) -> HttpResponse:
    """LTI Dynamic Registration: the LMS opens the invite URL with its OpenID configuration and a token."""
    try:
        platform = registration.platform_register(
            token=token,
            openid_configuration=request.GET.get("openid_configuration", ""),
            registration_token=request.GET.get("registration_token") or None,
        )
    except LaunchRefused as exc:
        return _refused(request, exc)
    return render(request, "lti/registered.html", {"platform": platform})
