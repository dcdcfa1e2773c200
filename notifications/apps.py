from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from attendance.signals import unexplained_absence_recorded
        from notifications.receivers import send_absence_alert

        unexplained_absence_recorded.connect(send_absence_alert, dispatch_uid="notifications.absence_alert")
