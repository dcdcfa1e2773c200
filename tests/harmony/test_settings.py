"""Production settings refuse to start with development secrets, DEBUG on or no shared cache.

Each case imports the settings in a fresh interpreter, as a production process would at start.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from harmony import settings as development

BASE_DIR = Path(__file__).resolve().parents[2]

# Everything these tests set; removed from the inherited environment so that the developer's or CI's own
# values (DEBUG, REDIS_URL...) cannot decide the outcome.
HARMONY_VARIABLES = {
    "HARMONY_ENVIRONMENT",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "FIELD_ENCRYPTION_KEYS",
    "BLIND_INDEX_KEY",
    "REDIS_URL",
    "CACHE_URL",
    "EMAIL_URL",
    "DATABASE_URL",
    # The browser tests allow Django's ORM inside Playwright's event loop in this process; a deployment never does.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
}


def production_environment(**changes: str | None) -> dict[str, str]:
    """Return a complete, valid production environment with `changes` applied (None removes a variable)."""
    env = {key: value for key, value in os.environ.items() if key not in HARMONY_VARIABLES}
    env.update(
        {
            "HARMONY_ENVIRONMENT": "production",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "harmony.example",
            "FIELD_ENCRYPTION_KEYS": "k1:" + base64.b64encode(os.urandom(32)).decode(),
            "BLIND_INDEX_KEY": secrets.token_urlsafe(32),
            "REDIS_URL": "redis://127.0.0.1:6379/14",
            "EMAIL_URL": "smtp+tls://harmony:secret@mail.harmony.example:587",
            "DATABASE_URL": "postgres://harmony:secret@db.harmony.example:5432/harmony",
        }
    )
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def load_settings(env: dict[str, str], code: str = "import harmony.settings") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )


def assert_refused(result: subprocess.CompletedProcess[str], problem: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "django.core.exceptions.ImproperlyConfigured: Production settings refused" in result.stderr, result.stderr
    assert problem in result.stderr.strip().splitlines()[-1], result.stderr


def test_proper_production_values_load():
    code = "import harmony.settings as s; print(s.PRODUCTION, s.DEBUG, s.CACHES['default']['BACKEND'])"
    result = load_settings(production_environment(), code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False", "django.core.cache.backends.redis.RedisCache"]


def test_production_turns_on_secure_cookies_https_and_hsts():
    code = (
        "import harmony.settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS > 0)"
    )
    result = load_settings(production_environment(), code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True"] * 4


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"SECRET_KEY": development.DEVELOPMENT_SECRET_KEY}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": None}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "short-but-not-the-development-one"}, "SECRET_KEY must be set"),
        ({"DEBUG": "true"}, "DEBUG must be off"),
        ({"FIELD_ENCRYPTION_KEYS": development.DEVELOPMENT_ENCRYPTION_KEYS}, "FIELD_ENCRYPTION_KEYS"),
        ({"FIELD_ENCRYPTION_KEYS": None}, "FIELD_ENCRYPTION_KEYS"),
        (
            {"FIELD_ENCRYPTION_KEYS": "prod:" + development.DEVELOPMENT_ENCRYPTION_KEYS.split(":", 1)[1]},
            "FIELD_ENCRYPTION_KEYS",
        ),
        ({"FIELD_ENCRYPTION_KEYS": "k1:" + base64.b64encode(os.urandom(16)).decode()}, "32 bytes"),
        ({"FIELD_ENCRYPTION_KEYS": "k1:not-base64!"}, "base64"),
        ({"BLIND_INDEX_KEY": development.DEVELOPMENT_BLIND_INDEX_KEY}, "BLIND_INDEX_KEY"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS"),
        ({"REDIS_URL": None}, "REDIS_URL"),
        ({"REDIS_URL": None, "CACHE_URL": "locmemcache://"}, "REDIS_URL"),
    ],
    ids=[
        "development-secret-key",
        "no-secret-key",
        "short-secret-key",
        "debug-on",
        "development-encryption-keys",
        "no-encryption-keys",
        "development-key-under-another-name",
        "short-encryption-key",
        "malformed-encryption-key",
        "development-blind-index-key",
        "no-allowed-hosts",
        "no-redis",
        "local-memory-cache",
    ],
)
def test_production_refuses_to_start(changes, problem):
    assert_refused(load_settings(production_environment(**changes)), problem)


def test_development_starts_with_its_defaults():
    env = production_environment(**dict.fromkeys(HARMONY_VARIABLES))
    code = "import harmony.settings as s; print(s.PRODUCTION, s.DEBUG, s.SECRET_KEY == s.DEVELOPMENT_SECRET_KEY)"
    result = load_settings(env, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "True"]


def test_the_deploy_check_passes_under_production_settings():
    """As `make deploy-check` runs it."""
    env = production_environment(DEBUG="false")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
