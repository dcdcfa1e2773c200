from __future__ import annotations

from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    """A router whose routes answer with and without a trailing slash, as the integration guide's paths do."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"
