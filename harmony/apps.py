from django.apps import AppConfig


class HarmonyConfig(AppConfig):
    name = "harmony"
    verbose_name = "Harmony"
