from django.apps import AppConfig


class StudentsConfig(AppConfig):
    name = "students"

    def ready(self) -> None:
        from students import sync  # noqa: F401  (registers the students with the sync plumbing)
