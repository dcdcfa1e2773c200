"""Messages to parents and staff: what was sent, to whom, over which channel, and who read it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from students.models import ClassGroup, Student


class NotificationType(models.TextChoices):
    INFO = "info", "Information"
    WARNING = "warning", "Warning"
    ALERT = "alert", "Alert"
    SUCCESS = "success", "Success"


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"


class Message(models.Model):
    """What a sender composed once, for one recipient or a whole audience; each recipient gets a Notification."""

    class Audience(models.TextChoices):
        INDIVIDUALS = "individuals", "Chosen people"
        CLASS_GROUP = "class_group", "Guardians of a class group"
        YEAR_GROUP = "year_group", "Guardians of a year group"
        SCHOOL = "school", "Guardians of the whole school"
        ABSENCE_ALERT = "absence_alert", "Absence alert"

    title = models.CharField(max_length=200)
    body = models.TextField(max_length=5000)
    type = models.CharField(max_length=10, choices=NotificationType.choices, default=NotificationType.INFO)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    audience = models.CharField(max_length=16, choices=Audience.choices, default=Audience.INDIVIDUALS)
    class_group = models.ForeignKey(ClassGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    year_group = models.PositiveSmallIntegerField(null=True, blank=True)
    student = models.ForeignKey(Student, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="sent_messages"
    )
    sender_app = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sent_messages",
    )
    recipient_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class NotificationQuerySet(models.QuerySet["Notification"]):
    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """One message for one recipient, in their inbox; e-mail copies are tracked as deliveries."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="notifications")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["message", "recipient"], name="one_notification_per_recipient")]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notification_inbox_idx")]

    def __str__(self) -> str:
        return f"{self.message} → {self.recipient_id}"


class Delivery(models.Model):
    """A notification's journey over one channel: queued, then sent or failed, with every attempt counted."""

    class Channel(models.TextChoices):
        IN_APP = "in_app", "In the app"
        EMAIL = "email", "E-mail"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When a worker took it for sending: one that stays "sending" long after was left by a worker that stopped.
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["notification", "channel"], name="one_delivery_per_channel")]
        indexes = [
            models.Index(fields=["status"], name="delivery_pending_idx", condition=~Q(status="sent")),
        ]

    def __str__(self) -> str:
        return f"{self.notification_id} {self.channel}: {self.status}"


class Preference(models.Model):
    """Which types of notification a person also wants by e-mail. High priority always goes by e-mail."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    email_types = models.JSONField(
        default=list, blank=True, help_text='Types sent by e-mail, e.g. ["alert", "warning"].'
    )

    def __str__(self) -> str:
        return f"Preferences of {self.user_id}"

    def wants_email(self, notification_type: str) -> bool:
        return notification_type in self.email_types


# For someone who has chosen nothing: e-mail for what asks them to act, the app for information and good news,
# so that the school's e-mails keep being read. High priority is e-mailed whatever the choice.
DEFAULT_EMAIL_TYPES = [NotificationType.WARNING, NotificationType.ALERT]


class AbsenceAlertSettings(models.Model):
    """The school's switch and editable text for absence alerts (one row)."""

    enabled = models.BooleanField(default=True)
    title = models.CharField(max_length=200, default="{first_name} is absent today")
    body = models.TextField(
        default=(
            "{first_name} {last_name} was marked absent on {date} and we have no reason for the absence. "
            "Please report the reason from the family pages or call the school office."
        ),
        help_text="Placeholders: {first_name}, {last_name}, {date}, {class_group}.",
    )

    class Meta:
        verbose_name_plural = "absence alert settings"

    def __str__(self) -> str:
        return "Absence alerts " + ("on" if self.enabled else "off")

    @classmethod
    def current(cls) -> AbsenceAlertSettings:
        return cls.objects.get_or_create(pk=1)[0]


class AbsenceAlert(models.Model):
    """One alert per child per day, whatever the number of sessions marked absent (the database enforces it)."""

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="absence_alerts")
    date = models.DateField()
    message = models.ForeignKey(Message, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["student", "date"], name="one_absence_alert_per_day")]

    def __str__(self) -> str:
        return f"{self.student_id} {self.date}"
