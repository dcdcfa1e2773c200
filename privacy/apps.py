from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from privacy.receivers import guardianship_changed
        from students.models import Guardianship

        # The consent states partners are filtered by count only guardians with parental responsibility.
        post_save.connect(guardianship_changed, sender=Guardianship, dispatch_uid="privacy.guardianship_saved")
        post_delete.connect(guardianship_changed, sender=Guardianship, dispatch_uid="privacy.guardianship_deleted")
