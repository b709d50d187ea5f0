"""Metis settings, read from the environment.

Local defaults (no variables set) run the demo on a SQLite file and an embedded
filesystem broker, so a bare machine with Python needs nothing else. Production
mode (``METIS_ENV=production``) refuses to start without a real ``SECRET_KEY``,
``ALLOWED_HOSTS``, ``DATABASE_URL``, ``CELERY_BROKER_URL`` and ``CACHE_URL``, and
turns on every ``check --deploy`` protection.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("METIS_VAR_DIR", BASE_DIR / "var"))

ENVIRONMENT = os.environ.get("METIS_ENV", "local").strip().lower()
if ENVIRONMENT not in {"local", "production"}:
    raise ImproperlyConfigured("METIS_ENV must be 'local' or 'production'")
PRODUCTION = ENVIRONMENT == "production"


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if value.strip().lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {value!r}")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from None


def _env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


_INSECURE_KEY = "django-insecure-metis-local-development-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", "" if PRODUCTION else _INSECURE_KEY)
DEBUG = _env_bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,[::1],testserver")
PORT = int(os.environ.get("PORT", "8000"))

if PRODUCTION:
    if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure") or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured(
            "METIS_ENV=production needs SECRET_KEY: at least 50 random characters "
            '(python -c "import secrets; print(secrets.token_urlsafe(64))")'
        )
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("METIS_ENV=production needs ALLOWED_HOSTS (comma-separated host names)")
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off when METIS_ENV=production")
    # The embedded defaults (a SQLite file, the filesystem broker, a per-process cache) are for one
    # machine; production names its real services, rather than falling back to those silently.
    for _name, _example, _fallback in (
        ("DATABASE_URL", "postgres://user@host:5432/metis", "a SQLite file"),
        ("CELERY_BROKER_URL", "redis://host:6379/0", "the embedded filesystem broker"),
        ("CACHE_URL", "redis://host:6379/1", "a separate cache in each process"),
    ):
        if not os.environ.get(_name, "").strip():
            raise ImproperlyConfigured(
                f"METIS_ENV=production needs {_name} (e.g. {_example}); unset, Metis would use {_fallback}"
            )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "tutor",
    "learner_models",
    "metacog",
    "lti",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "tutor.api.errors.JsonErrorsMiddleware",
    # Outside the session layer, so it sees the cookies set there: SameSite=None for launched sessions only.
    "lti.middleware.LtiFrameMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tutor.middleware.HtmxSignedOutMiddleware",
    "tutor.middleware.RefuseNulMiddleware",
]

if PRODUCTION:  # gunicorn serves the collected static files itself; runserver does it locally
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "tutor.urls"
WSGI_APPLICATION = "tutor.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -----------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'metis.sqlite3'}"
try:
    # Persistent connections (gunicorn sync workers keep one each between requests), checked before reuse so a
    # connection the database dropped (restart, idle timeout) is replaced instead of failing a request.
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=_env_int("DATABASE_CONN_MAX_AGE_S", 0 if DEBUG else 60),
            conn_health_checks=True,
        )
    }
except ValueError as exc:  # dj-database-url's UnknownSchemeError is a ValueError
    raise ImproperlyConfigured(
        f"DATABASE_URL is not a database URL ({exc}); e.g. postgres://user@host:5432/metis"
    ) from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database that does not answer fails a request in seconds rather than hanging a web worker, and no
    # statement runs longer than DATABASE_STATEMENT_TIMEOUT_MS (0: no limit, e.g. for a long migration).
    _pg = DATABASES["default"].setdefault("OPTIONS", {})
    _pg["connect_timeout"] = _env_int("DATABASE_CONNECT_TIMEOUT_S", 5)
    _statement_ms = _env_int("DATABASE_STATEMENT_TIMEOUT_MS", 30_000)
    if _statement_ms > 0:
        _pg["options"] = f"{_pg.get('options', '')} -c statement_timeout={_statement_ms}".strip()
    # No JIT compilation: it starts on plans the planner prices above jit_above_cost, which short web queries
    # over many rows reach (the class overview's recent answers: ~80 ms compiling a ~100 ms query), and a page
    # view never runs long enough to win it back (docs/decisions/0005-skill-tallies.md).
    _pg["options"] = f"{_pg.get('options', '')} -c jit=off".strip()
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo's web server and Celery worker write the same file: WAL lets readers
    # run beside one writer, IMMEDIATE takes the write lock up front (no deadlock
    # on lock upgrade) and the timeout makes a writer wait instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # A file, not pytest's in-memory default, so a real Celery worker process can share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-metis-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Per-student scheduler estimates and course structure are cached. Locally each process keeps
# its own (correct, just colder); in production point CACHE_URL at Redis so workers share it.
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
elif CACHE_URL:
    raise ImproperlyConfigured("CACHE_URL must be a redis:// URL (or unset for a per-process cache)")
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "tutor.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["tutor.auth.ThrottledModelBackend"]
# Per-account login throttling (tutor.auth): this many wrong passwords for one username within the window
# refuse that username for the lockout, whatever the password. Per account, so one IP (a school) is never
# locked out as a whole.
LOGIN_FAILURE_LIMIT = _env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_WINDOW_S = _env_int("LOGIN_FAILURE_WINDOW_S", 15 * 60)
LOGIN_LOCKOUT_S = _env_int("LOGIN_LOCKOUT_S", 15 * 60)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Celery -------------------------------------------------------------------
# Default: kombu's filesystem transport, a real broker that needs no server. Its
# queue folders live under var/broker so the web server and worker share them.
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
# Long meta-training on `metatrain` (GPU workers where present: the device is picked
# automatically), per-student refreshes on `adapt`, the rest on `default`.
# Each queue has its own direct exchange and routing key: a task routed to one queue lands in that one only.
CELERY_TASK_QUEUES = [Queue(name, Exchange(name), routing_key=name) for name in ("default", "metatrain", "adapt")]
CELERY_TASK_DEFAULT_EXCHANGE = "default"
CELERY_TASK_DEFAULT_ROUTING_KEY = "default"
CELERY_TASK_ROUTES = {
    "learner_models.tasks.metatrain_run": {"queue": "metatrain"},
    "learner_models.tasks.student_state_refresh_task": {"queue": "adapt"},
    "learner_models.tasks.students_readapt": {"queue": "adapt"},
}
CELERY_BEAT_SCHEDULE = {
    "metatrain-nightly": {"task": "learner_models.tasks.metatrain_scheduled", "schedule": 24 * 3600},
    "metatrain-if-due": {"task": "learner_models.tasks.metatrain_if_due", "schedule": 600},
    "training-runs-recover": {"task": "learner_models.tasks.training_runs_recover", "schedule": 300},
    # which pairs of skills students confuse, for classes on the spread rule (tutor.services.contrasts_learn)
    "contrasts-learn-nightly": {"task": "tutor.tasks.contrasts_learn_all", "schedule": 24 * 3600},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
METIS_RETRAIN_AFTER_ATTEMPTS = int(os.environ.get("METIS_RETRAIN_AFTER_ATTEMPTS", "2000"))

# --- student data -------------------------------------------------------------
# Retention: `manage.py retention_apply --yes` erases students with no activity (login, session, answer)
# for this many days. 0 (the default) keeps data until someone erases it (docs/operations.md).
METIS_RETENTION_DAYS = _env_int("METIS_RETENTION_DAYS", 0)

# /healthz shows its details (which part is down, error texts, model) to operators (is_staff) and to
# requests sending "Authorization: Bearer <HEALTHZ_TOKEN>"; anyone else gets the status alone.
HEALTHZ_TOKEN = os.environ.get("HEALTHZ_TOKEN", "")

# --- demo ---------------------------------------------------------------------
# No default in production: demo_seed there (only with --i-know-this-is-production) needs a chosen one.
DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "" if PRODUCTION else "metis-demo")

# --- security (production) ----------------------------------------------------
# Classroom computers are shared: a session ends when the browser closes, and after a school day at most.
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_AGE = _env_int("SESSION_COOKIE_AGE_S", 12 * 3600)
SESSION_COOKIE_HTTPONLY = True
# htmx sends the token from the page (hx-headers in base.html); no script reads the cookie.
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", "")
    # /healthz is probed over plain HTTP by load balancers inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- REST API (docs/api.md) -----------------------------------------------------
# Integration clients authenticate with a Bearer token (tutor.ApiClient); no session or basic auth, so a
# signed-in browser gets no API access and no CSRF surface. Each client has its own throttle bucket.
API_CLIENT_RATE = os.environ.get("API_CLIENT_RATE", "1200/minute")
API_PAGE_SIZE = 50
API_MAX_PAGE_SIZE = 500
# xAPI statements (docs/api.md, "xAPI"). SITE_URL is the site's public base URL: actor accounts, activity ids and
# extension IRIs hang under it. Statement ids are uuid5(XAPI_NAMESPACE, attempt), so a re-export stores nothing
# twice in an LRS; the namespace is derived from SITE_URL unless set. Both are identifiers: keep them when the
# site moves.
SITE_URL = (os.environ.get("SITE_URL", "").strip() or f"http://localhost:{PORT}").rstrip("/")
_site = urlsplit(SITE_URL)
if _site.scheme not in {"http", "https"} or not _site.netloc or _site.query or _site.fragment or " " in SITE_URL:
    raise ImproperlyConfigured(
        f"SITE_URL must be the site's http(s) address, e.g. https://metis.example.org, got {SITE_URL!r}"
    )
try:
    XAPI_NAMESPACE = str(
        uuid.UUID(os.environ.get("XAPI_NAMESPACE", "") or str(uuid.uuid5(uuid.NAMESPACE_URL, SITE_URL)))
    )
except ValueError:
    raise ImproperlyConfigured(
        "XAPI_NAMESPACE must be a UUID, e.g. from python -c 'import uuid; print(uuid.uuid4())'"
    ) from None
XAPI_LANGUAGE = "en"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tutor.api.auth.ApiClientAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tutor.api.auth.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["tutor.api.auth.ApiClientThrottle"],
    "DEFAULT_PAGINATION_CLASS": "tutor.api.pagination.Pagination",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "tutor.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Metis API",
    "DESCRIPTION": "Rosters, content and attempts of one organisation, for LMSs and integrators (docs/api.md).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Swagger UI's JavaScript and CSS come from the drf-spectacular-sidecar package via /static/: works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # ids in URLs (tutor.api.urls.IdConverter): integers of at most 18 digits
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}},
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "tutor.api.schema.error_responses"],
}

# --- LTI 1.3 (docs/integration.md) -------------------------------------------------
# After `manage.py lti_rotate_key`, the old key stays in the JWKS this many days (platforms cache keysets).
LTI_KEY_GRACE_DAYS = _env_int("LTI_KEY_GRACE_DAYS", 7)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
