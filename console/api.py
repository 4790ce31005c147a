"""The REST API's router and the error shape every endpoint shares."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.routers import DefaultRouter
from rest_framework.views import exception_handler

from apps.accounts.api import TeamViewSet, UserViewSet
from apps.audit.api import AuditEventViewSet
from apps.catalog.api import ModelViewSet
from apps.connectors.api import ConnectionViewSet
from apps.keyrequests.api import KeyRequestViewSet
from apps.projects.api import EnvironmentViewSet, ProjectViewSet
from apps.vault.api import KeyViewSet
from apps.vault.api_leaks import LeakCheckViewSet

router = DefaultRouter()
router.register("users", UserViewSet)
router.register("teams", TeamViewSet)
router.register("projects", ProjectViewSet)
router.register("environments", EnvironmentViewSet)
router.register("audit", AuditEventViewSet)
router.register("key-requests", KeyRequestViewSet)
router.register("keys", KeyViewSet)
router.register("leak-check", LeakCheckViewSet, basename="leak-check")
router.register("models", ModelViewSet, basename="model")
router.register("connections", ConnectionViewSet)


class Refused(exceptions.APIException):
    status_code = 400
    default_code = "invalid"


def handle_exception(exc, context):
    """Let services raise Django's ValidationError and still answer 400 with a body."""
    if isinstance(exc, DjangoValidationError):
        exc = Refused(" ".join(exc.messages))
    return exception_handler(exc, context)
