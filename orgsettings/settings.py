"""Settings, read from the environment with django-environ (see .env.example and the README).

Production defaults are the safe ones: DEBUG off, HTTPS-only cookies and redirects, and no
fallback keys. With DEBUG on (as `make run` sets it), missing keys fall back to fixed
development values and a warning says so.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
env_file = BASE_DIR / ".env"
if env_file.is_file():
    env.read_env(env_file)

DEBUG = env.bool("DEBUG", default=False)

_DEV_KEYS = {
    "SECRET_KEY": "dev-only-secret-key-never-use-in-production-0000000000000000000000",
    "CRYPTOGRAPHY_KEY": "dev-only-cryptography-key-never-use-in-production-000000000000000",
}


# Names of the keys that fell back to development values (`check --deploy` refuses them).
DEVELOPMENT_KEYS_IN_USE: list[str] = []


def _key(name: str) -> str:
    value = env.str(name, default="")
    if value:
        return value
    if not DEBUG:
        raise ImproperlyConfigured(
            f"Set the {name} environment variable (or DEBUG=true for development)."
        )
    if "pytest" not in sys.modules:
        print(f"WARNING: {name} is not set; using the development-only fallback.", file=sys.stderr)
    DEVELOPMENT_KEYS_IN_USE.append(name)
    return _DEV_KEYS[name]


SECRET_KEY = _key("SECRET_KEY")
# Encrypts stored credentials; kept apart from SECRET_KEY so that rotating one does not make
# them unreadable. Like SECRET_KEY_FALLBACKS: the fallbacks still decrypt, during a rotation.
CRYPTOGRAPHY_KEY = _key("CRYPTOGRAPHY_KEY")
CRYPTOGRAPHY_KEY_FALLBACKS = env.list("CRYPTOGRAPHY_KEY_FALLBACKS", default=[])
# The name registries/encryption.py and the deploy checks read the key under.
CREDENTIALS_KEY = CRYPTOGRAPHY_KEY
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "orgsettings.errors.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "csp",
    "django_htmx",
    "template_partials",
    "orgsettings",
    "registries",
    # Before django_tasks_db: its `db_worker` command is extended there (recovery at start).
    "delivery",
    "pullhealth",
    "django_tasks",
    "django_tasks_db",
    "operations",
]

STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=not DEBUG)

MIDDLEWARE = [
    # First: answers the probes and /metrics before any Host or HTTPS check (see the module).
    "operations.middleware.operations_endpoints",
    "operations.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # Serves the collected static files in production, and the app's own under `make run`.
    *(["whitenoise.middleware.WhiteNoiseMiddleware"] if STATIC_MANIFEST or DEBUG else []),
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "orgsettings.errors.htmx_login_middleware",
    # Last, as django-axes requires: it answers locked-out logins (see LOGIN_FAILURE_LIMIT).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "orgsettings.urls"
WSGI_APPLICATION = "orgsettings.wsgi.application"

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several writers (web, worker, reconciler) share one file: wait instead of failing, and
    # take the write lock when a transaction starts, as a lock upgrade midway cannot wait.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("timeout", 20)
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-axes first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Production serves hashed, compressed files (after `collectstatic`); development serves as-is.
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# `make run` serves static files from the apps' folders through gunicorn, as runserver would.
WHITENOISE_USE_FINDERS = DEBUG and not STATIC_MANIFEST
WHITENOISE_AUTOREFRESH = DEBUG

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# HTTPS: on by default outside DEBUG; a test deployment behind plain HTTP can switch each off.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The audit trail records REMOTE_ADDR. Behind reverse proxies that append to X-Forwarded-For
# instead, set how many of them there are; 0 ignores the header, which clients can forge.
AUDIT_TRUSTED_PROXIES = env.int("AUDIT_TRUSTED_PROXIES", default=0)
# Login throttling, on /accounts/login/ and /admin/login/ alike: after LOGIN_FAILURE_LIMIT failed
# logins in a row for one username, or from one client address (the one the audit trail records),
# logins for it are refused for LOGIN_LOCKOUT_MINUTES, and sooner unlocked by an operator.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "orgsettings.audit.client_ip"
AXES_LOCKOUT_CALLABLE = "orgsettings.views.login_locked_out"
# Content-Security-Policy (django-csp): only our own scripts, styles, images and requests; no
# inline script or style, no eval, no framing. htmx is configured (base.html) not to inject its
# indicator style; app.css carries it.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# "json": one JSON object per line, with the request ID and organization (see operations/logs.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "operations.logs.RequestContextFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "operations.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # At DEBUG the AWS SDK logs request and response bodies: a minted ECR token among them.
    "loggers": {name: {"level": "WARNING"} for name in ("boto3", "botocore", "s3transfer")},
}

# Operations: probes, metrics and the production server (see docs/operators.md, "Deploying").
# /metrics answers clients in these networks (comma-separated CIDRs), or a Bearer token.
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[])
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# The worker and the reconciler write their heartbeat files here; their probes read them.
HEARTBEAT_DIR = env.path("HEARTBEAT_DIR", default=Path(tempfile.gettempdir()) / "orgsettings")
# gunicorn reads the same variable (gunicorn.conf.py); the check compares it with the probe's.
GUNICORN_TIMEOUT = env.int("GUNICORN_TIMEOUT", default=30)

# Registry auth kinds, like PASSWORD_HASHERS: dotted paths to AuthKind classes, in the form's
# order (see registries/auth_kinds/base.py). A kind still stored by a registry must stay listed.
REGISTRY_AUTH_KINDS = env.list(
    "REGISTRY_AUTH_KINDS",
    default=[
        "registries.auth_kinds.basic.BasicAuth",
        "registries.auth_kinds.token.Token",
        "registries.auth_kinds.ecr.AmazonECR",
    ],
)

# Delivery: pushing image-pull Secrets to each organization's targets (see the README).
REGISTRY_SYNC_ENABLED = env.bool("REGISTRY_SYNC_ENABLED", default=True)
# With no cluster defined, KUBECONFIG (or the in-cluster ServiceAccount when running in a pod)
# is the default cluster; empty and outside a pod: no cluster.
KUBECONFIG = env.str("KUBECONFIG", default="")
REGISTRY_SECRET_NAME = env.str("REGISTRY_SECRET_NAME", default="org-registry-credentials")
REGISTRY_SERVICE_ACCOUNTS = env.list("REGISTRY_SERVICE_ACCOUNTS", default=["default"])
REGISTRY_CREATE_NAMESPACES = env.bool("REGISTRY_CREATE_NAMESPACES", default=False)
# "cluster": one labelled LIST cluster-wide (deploy/rbac.yaml); "namespaced": reads and writes
# only in the organizations' namespaces, through a Role in each (deploy/components/namespaced-rbac).
REGISTRY_RBAC_SCOPE = env.str("REGISTRY_RBAC_SCOPE", default="cluster")
if REGISTRY_RBAC_SCOPE not in ("cluster", "namespaced"):
    raise ImproperlyConfigured(
        f"REGISTRY_RBAC_SCOPE must be cluster or namespaced, not {REGISTRY_RBAC_SCOPE!r}."
    )
REGISTRY_KUBE_CONNECT_TIMEOUT = env.float("REGISTRY_KUBE_CONNECT_TIMEOUT", default=3.0)
REGISTRY_KUBE_READ_TIMEOUT = env.float("REGISTRY_KUBE_READ_TIMEOUT", default=10.0)
# Retriable trouble (a `default` ServiceAccount not created yet, a timeout) is retried by a
# new task after 2, 4, 8 … seconds, at most this long apart; the worker never sleeps on it.
DELIVERY_RETRY_MAX_DELAY = env.float("DELIVERY_RETRY_MAX_DELAY", default=300.0)
DELIVERY_RETRY_ATTEMPTS = env.int("DELIVERY_RETRY_ATTEMPTS", default=10)
# A delivery run still RUNNING after this many seconds belongs to a worker that died: it is
# put back in the queue (by the reconciler's loop, and by every worker when it starts).
DELIVERY_RUN_STALE_AFTER = env.float("DELIVERY_RUN_STALE_AFTER", default=45.0)
# Objects per page of the reconciler's LIST calls (limit/continue), so memory stays flat.
DELIVERY_LIST_PAGE_SIZE = env.int("DELIVERY_LIST_PAGE_SIZE", default=500)

# The task queue: django-tasks with its database backend. The task row is written in the
# transaction of the change that asks for it, so it commits (or rolls back) with that change.
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

# Test connection: checking credentials against the registry itself (see the README).
# The test connects from this server to an address an admin typed, so it reaches only public
# addresses unless a network is listed in REGISTRY_PROBE_ALLOWED_NETWORKS (comma-separated CIDRs).
REGISTRY_PROBE_ALLOW_HTTP = env.bool("REGISTRY_PROBE_ALLOW_HTTP", default=False)
REGISTRY_PROBE_ALLOWED_NETWORKS = env.list("REGISTRY_PROBE_ALLOWED_NETWORKS", default=[])
# A PEM bundle trusted in addition to the system roots, for registries with a private CA.
REGISTRY_PROBE_CA_BUNDLE = env.str("REGISTRY_PROBE_CA_BUNDLE", default="") or None
# Seconds for a whole test; the connect and per-read limits are derived from it.
REGISTRY_PROBE_TIMEOUT = env.float("REGISTRY_PROBE_TIMEOUT", default=10.0)
# Tests per user: N/s, N/m, N/h or N/d.
REGISTRY_PROBE_RATE = env.str("REGISTRY_PROBE_RATE", default="10/m")
