from django.apps import AppConfig


class AttendanceConfig(AppConfig):
    name = "attendance"

    def ready(self) -> None:
        from attendance import sync  # noqa: F401  (registers attendance with the sync plumbing)
