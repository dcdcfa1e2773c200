"""Settings for Harmony, read from the environment.

Every value comes from an environment variable (or a `.env` file beside `manage.py`) with a safe default for
development. `.env.example` documents each one. With `HARMONY_ENVIRONMENT=production` the defaults turn
strict and the process refuses to start with development secrets or with DEBUG on.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

ENVIRONMENT = env.str("HARMONY_ENVIRONMENT", default="development")
if ENVIRONMENT not in {"development", "production"}:
    raise ImproperlyConfigured("HARMONY_ENVIRONMENT must be 'development' or 'production'.")
PRODUCTION = ENVIRONMENT == "production"

# Development-only secrets. They are public (they are in this file), so production refuses them.
DEVELOPMENT_SECRET_KEY = "development-only-secret-key-never-use-in-production-0123456789abcdef"
DEVELOPMENT_ENCRYPTION_KEYS = "dev1:ZGV2ZWxvcG1lbnQtb25seS1maWVsZC1rZXktMzJiISE="
DEVELOPMENT_BLIND_INDEX_KEY = "development-only-blind-index-key"

SECRET_KEY = env.str("SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Field encryption: "id:base64key,id:base64key", the first one encrypts, all of them decrypt.
FIELD_ENCRYPTION_KEYS = env.str("FIELD_ENCRYPTION_KEYS", default=DEVELOPMENT_ENCRYPTION_KEYS)
BLIND_INDEX_KEY = env.str("BLIND_INDEX_KEY", default=DEVELOPMENT_BLIND_INDEX_KEY)

if PRODUCTION:
    problems = []
    if DEBUG:
        problems.append("DEBUG must be off")
    if SECRET_KEY == DEVELOPMENT_SECRET_KEY or len(SECRET_KEY) < 50:
        problems.append("SECRET_KEY must be set to a long random value")
    # The development key is refused under any name, and a malformed key now rather than at the first request.
    if DEVELOPMENT_ENCRYPTION_KEYS.partition(":")[2] in FIELD_ENCRYPTION_KEYS or "dev1:" in FIELD_ENCRYPTION_KEYS:
        problems.append("FIELD_ENCRYPTION_KEYS must be set to keys of your own")
    else:
        from harmony.crypto import parse_key_ring

        try:
            parse_key_ring(FIELD_ENCRYPTION_KEYS)
        except ImproperlyConfigured as exc:
            problems.append(str(exc).rstrip("."))
    if BLIND_INDEX_KEY == DEVELOPMENT_BLIND_INDEX_KEY:
        problems.append("BLIND_INDEX_KEY must be set to a key of your own")
    if not ALLOWED_HOSTS:
        problems.append("ALLOWED_HOSTS must name the hosts that serve Harmony")
    if problems:
        raise ImproperlyConfigured("Production settings refused: " + "; ".join(problems) + ".")

INSTALLED_APPS = [
    "harmony",
    "students",
    "attendance",
    "notifications",
    "privacy",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "oauth2_provider",
    "django_tasks_db",
]

MIDDLEWARE = [
    "harmony.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "harmony.urls"
WSGI_APPLICATION = "harmony.wsgi.application"
ASGI_APPLICATION = "harmony.asgi.application"

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
                "django.template.context_processors.csp",
                "harmony.context_processors.school",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the development server and a test's live server share the file.
    # BEGIN IMMEDIATE makes concurrent writers queue for the lock instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Tests use a file, not memory, so that threads and the browser tests' live server share one database.
    DATABASES["default"].setdefault("TEST", {"NAME": str(BASE_DIR / "var" / "test.sqlite3")})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if env.str("CACHE_URL", default=""):
    CACHES = {"default": env.cache("CACHE_URL")}
elif REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "harmony"}}

if PRODUCTION and CACHES["default"]["BACKEND"].endswith("LocMemCache"):
    raise ImproperlyConfigured("Production settings refused: set REDIS_URL so that rate limits are shared.")

AUTH_USER_MODEL = "harmony.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "staff-login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    # Client secrets are 40+ random characters: a slow hash adds nothing to them but CPU per token request.
    "harmony.hashers.ClientSecretHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="Europe/London")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
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
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")

# E-mail: console in development; EMAIL_URL (smtp+tls://user:pass@host:587) in production.
_email = env.email_url("EMAIL_URL", default="consolemail://")
_smtp_options = {
    "host": _email.get("EMAIL_HOST"),
    "port": _email.get("EMAIL_PORT"),
    "username": _email.get("EMAIL_HOST_USER"),
    "password": _email.get("EMAIL_HOST_PASSWORD"),
    "use_tls": _email.get("EMAIL_USE_TLS"),
    "use_ssl": _email.get("EMAIL_USE_SSL"),
    "timeout": env.int("EMAIL_TIMEOUT", default=10),
}
MAILERS = {
    "default": {
        "BACKEND": _email["EMAIL_BACKEND"],
        "OPTIONS": (
            {k: v for k, v in _smtp_options.items() if v not in (None, "")}
            if _email["EMAIL_BACKEND"].endswith("smtp.EmailBackend")
            else {}
        ),
    }
}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Harmony <harmony@darul-arkam.example>")

# Security. Behind a proxy that terminates TLS, the proxy must set X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = PRODUCTION
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
CSRF_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}

# The API.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["oauth2_provider.contrib.rest_framework.OAuth2Authentication"],
    "DEFAULT_PERMISSION_CLASSES": [
        "harmony.api.permissions.HasRequiredScope",
        "privacy.enforcement.DataPurpose",
    ],
    "DEFAULT_RENDERER_CLASSES": ["harmony.api.envelope.EnvelopeRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "harmony.api.pagination.PagePagination",
    "DEFAULT_THROTTLE_CLASSES": ["harmony.api.throttling.ClientRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "harmony.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DATE_INPUT_FORMATS": ["iso-8601"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Harmony API",
    "DESCRIPTION": (
        "The Darul-Arkam school data platform. Every answer is an envelope: `{success, data}` or "
        "`{success: false, error, code, details, requestId}`. Authenticate with an OAuth2 token from "
        "`/api/oauth/token`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["harmony.api.schema.wrap_in_envelope"],
}

API_PAGE_SIZE = 20
API_MAX_PAGE_SIZE = 100

SCOPES = {
    "students:read": "Read students, guardians and guardianships",
    "students:write": "Create, change and delete students, guardians and guardianships",
    "attendance:read": "Read attendance",
    "attendance:write": "Record attendance",
    "notifications:read": "Read notifications",
    "notifications:write": "Send notifications",
    "sync": "Synchronise students and attendance in bulk",
    "privacy": "Privacy requests and consent",
}

OAUTH2_PROVIDER_APPLICATION_MODEL = "harmony.Application"
OAUTH2_PROVIDER = {
    "SCOPES": SCOPES,
    "DEFAULT_SCOPES": [],
    "SCOPES_BACKEND_CLASS": "harmony.oauth.ApplicationScopes",
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 14 * 24 * 3600,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "PKCE_REQUIRED": True,
    "CLIENT_SECRET_HASHER": "client_secret_sha256",
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"] if PRODUCTION else ["http", "https"],
    # RFC 9700 (OAuth 2.0 Security Best Current Practice): adopt every compliant behaviour now...
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": PRODUCTION,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    # ...except the password grant: the integration guide's client signs users in with it, and partner apps
    # built on the guide depend on it. Only applications registered with `--grant password` may use it
    # (django-oauth-toolkit checks each application's grant type), hence the silenced oauth2_provider.W002.
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": False,
}

# Rate limits, as "count/period" (period: s, m, h, d, optionally with a multiplier: 15m).
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
RATELIMIT_USE_CACHE = "default"
SIGN_IN_RATE_LIMIT = env.str("SIGN_IN_RATE_LIMIT", default="5/15m")
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="100/15m")
# The password grant is on for the guide's client, on purpose: see OAUTH2_PROVIDER above.
SILENCED_SYSTEM_CHECKS = ["oauth2_provider.W002"]
if not PRODUCTION:
    # Development and tests run on one process with a local-memory cache, which is shared enough there.
    SILENCED_SYSTEM_CHECKS += ["django_ratelimit.E003", "django_ratelimit.W001"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "harmony.logging.RequestIdFilter"}},
    "formatters": {"json": {"()": "harmony.logging.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
    },
}

HARMONY_SCHOOL_NAME = env.str("SCHOOL_NAME", default="Darul-Arkam School")
# The address people reach Harmony at, for links in e-mails.
HARMONY_SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# Background tasks (e-mail fan-out, exports, erasures, retention) go through Django's task framework onto a
# database queue that `manage.py db_worker` drains; `make run` starts one worker beside the web server.
TASKS = {"default": {"BACKEND": env.str("TASKS_BACKEND", default="django_tasks_db.DatabaseBackend")}}
NOTIFICATION_EMAIL_MAX_ATTEMPTS = env.int("NOTIFICATION_EMAIL_MAX_ATTEMPTS", default=5)

# Privacy. When two guardians with parental responsibility decide differently: any_refusal_wins | latest_decision_wins.
CONSENT_RULE = env.str("CONSENT_RULE", default="any_refusal_wins")
# How long a data export stays downloadable.
PRIVACY_EXPORT_DAYS = env.int("PRIVACY_EXPORT_DAYS", default=7)
# How many records retention handles per batch (each student's erasure is one transaction).
PRIVACY_RETENTION_BATCH_SIZE = env.int("PRIVACY_RETENTION_BATCH_SIZE", default=500)

# Attendance: each register session and the time its register closes ("AM=09:30,PM=13:45").
ATTENDANCE_SESSIONS = env.dict("ATTENDANCE_SESSIONS", default={"AM": "09:30", "PM": "13:45"})
# Marks older than this many days may be changed only by the office (and partner systems of record).
ATTENDANCE_EDIT_WINDOW_DAYS = env.int("ATTENDANCE_EDIT_WINDOW_DAYS", default=7)
REFRESH_TOKEN_LIFETIME = timedelta(days=14)
