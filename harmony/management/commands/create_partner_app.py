"""Register a partner system and print its credentials once, as one JSON object."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from oauth2_provider.generators import generate_client_id, generate_client_secret

from harmony.models import Application

GRANTS = {
    "client-credentials": Application.GRANT_CLIENT_CREDENTIALS,
    "password": Application.GRANT_PASSWORD,
    "authorization-code": Application.GRANT_AUTHORIZATION_CODE,
}


def register_partner_app(
    *, name: str, scopes: list[str], grant: str = "client-credentials", redirect_uri: str = ""
) -> dict[str, Any]:
    """Create an application and return its credentials; the secret is readable only in this answer."""
    unknown = sorted(set(scopes) - set(settings.SCOPES))
    if unknown:
        raise CommandError(f"Unknown scopes: {', '.join(unknown)}. Known: {', '.join(settings.SCOPES)}.")
    if not scopes:
        raise CommandError("Grant at least one scope.")
    if grant not in GRANTS:
        raise CommandError(f"--grant must be one of: {', '.join(GRANTS)}.")
    if grant == "authorization-code" and not redirect_uri:
        raise CommandError("The authorization-code grant needs --redirect-uri.")
    secret = generate_client_secret()
    app = Application.objects.create(
        name=name,
        client_id=generate_client_id(),
        client_secret=secret,  # hashed on save
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=GRANTS[grant],
        redirect_uris=redirect_uri,
        allowed_scopes=" ".join(s for s in settings.SCOPES if s in scopes),
        algorithm="",
    )
    return {
        "name": app.name,
        "client_id": app.client_id,
        "client_secret": secret,
        "grant": grant,
        "scopes": app.allowed_scopes.split(),
        "token_url": "/api/oauth/token",
    }


class Command(BaseCommand):
    help = "Register a partner application with the scopes the school grants it, and print its credentials."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--scopes", required=True, help='Space-separated, e.g. "students:read attendance:read"')
        parser.add_argument("--grant", default="client-credentials", choices=list(GRANTS))
        parser.add_argument("--redirect-uri", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        credentials = register_partner_app(
            name=options["name"],
            scopes=options["scopes"].split(),
            grant=options["grant"],
            redirect_uri=options["redirect_uri"],
        )
        self.stdout.write(json.dumps(credentials))
