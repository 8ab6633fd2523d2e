from django.apps import AppConfig


class LannerConfig(AppConfig):
    name = "lanner.django"
    label = "lanner"
    verbose_name = "Lanner"
