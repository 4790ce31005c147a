from django.apps import AppConfig


class KeyRequestsConfig(AppConfig):
    name = "apps.keyrequests"
    label = "keyrequests"
    verbose_name = "Key requests"
