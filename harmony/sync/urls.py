"""/api/sync/status, /api/sync/changes, and /api/sync/<entity> for each registered entity."""

from __future__ import annotations

from django.urls import re_path

from harmony.sync.api import ChangeFeedView, SyncStatusView, push_view
from harmony.sync.registry import entities

urlpatterns = [
    re_path(r"^sync/status/?$", SyncStatusView.as_view(), name="sync-status"),
    re_path(r"^sync/changes/?$", ChangeFeedView.as_view(), name="sync-changes"),
    *(re_path(rf"^sync/{entity.name}/?$", push_view(entity), name=f"sync-{entity.name}") for entity in entities()),
]
