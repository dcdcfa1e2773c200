"""The change feed, retried requests and each partner's sync state: what every synchronised entity shares.

Only the natural key of a record is kept here, never its data: the feed reads each record as it is now, and a
deleted or erased record is a tombstone that carries nothing but its key.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from harmony.fields import EncryptedTextField


class ChangeCounter(models.Model):
    """The last change number handed out (one row).

    A transaction that takes numbers updates this row and so holds its lock until it commits: see
    `harmony.sync.changes` for why that keeps readers from skipping a change.
    """

    name = models.CharField(max_length=20, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.value}"


class Change(models.Model):
    """One write to a synchronised record: which record, under which natural key, by whom, and when."""

    class Operation(models.TextChoices):
        UPSERT = "upsert", "Created or changed"
        DELETE = "delete", "Deleted or erased"

    number = models.BigIntegerField(primary_key=True, help_text="Increasing in commit order, without gaps.")
    entity = models.CharField(max_length=40)
    record_id = models.BigIntegerField()
    key = models.JSONField(help_text="The natural key partners match the record by, and nothing else.")
    operation = models.CharField(max_length=8, choices=Operation.choices)
    source = models.CharField(
        max_length=16, help_text="sync, api, admin, staff, family, register, office, parent_report, privacy, system"
    )
    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["number"]
        indexes = [
            models.Index(fields=["entity", "number"], name="change_feed_idx"),  # the feed, in order
            models.Index(fields=["entity", "record_id", "changed_at"], name="change_record_idx"),  # conflicts
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.operation} {self.entity} {self.record_id}"


class IdempotentRequest(models.Model):
    """The first answer to a request sent with an Idempotency-Key, replayed when the same request comes again.

    The answer may carry a child's data (the server's values in a conflict), so it is encrypted, forgotten
    after `harmony.sync.idempotency.KEEP_FOR`, and forgotten at once when one of the `subjects` is erased.
    """

    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the method, path and body.")
    status_code = models.PositiveSmallIntegerField(default=200)
    answer = EncryptedTextField(blank=True)
    subjects = models.TextField(blank=True, help_text="' 12 57 ': the students whose data the answer carries.")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["application", "key"], name="one_answer_per_key")]

    def __str__(self) -> str:
        return f"{self.application_id} {self.key}"


class SyncState(models.Model):
    """A partner application's last push and last pull of one entity."""

    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    entity = models.CharField(max_length=40)
    last_push_at = models.DateTimeField(null=True, blank=True, help_text="When the last push began.")
    last_push_outcome = models.CharField(max_length=16, blank=True)
    last_push_totals = models.JSONField(default=dict, blank=True)
    last_synced_at = models.DateTimeField(
        null=True, blank=True, help_text="The start of the last push that was applied: the next lastSyncTimestamp."
    )
    last_pull_at = models.DateTimeField(null=True, blank=True)
    last_pull_number = models.BigIntegerField(null=True, blank=True)
    last_pull_count = models.PositiveIntegerField(default=0)
    last_pull_caught_up = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["application", "entity"], name="one_state_per_app_entity")]

    def __str__(self) -> str:
        return f"{self.application_id} {self.entity}"
