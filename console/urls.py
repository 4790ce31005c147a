from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.spend.urls import api_urlpatterns as spend_api
from apps.usage.urls import api_urlpatterns as usage_api
from console import views
from console.api import router

urlpatterns = [
    path("", views.home, name="home"),
    path("", include("apps.accounts.urls")),
    path("projects/", include("apps.projects.urls")),
    path("audit/", include("apps.audit.urls")),
    path("keys/", include("apps.vault.urls")),
    path("requests/", include("apps.keyrequests.urls")),
    path("models/", include("apps.catalog.urls")),
    path("connections/", include("apps.connectors.urls")),
    path("", include("apps.usage.urls")),
    path("spend/", include("apps.spend.urls")),
    path("api/v1/", include(([*router.urls, *usage_api, *spend_api], "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI sets inline styles; scripts stay 'self' only, as everywhere else.
    path(
        "api/docs/",
        csp_update({"style-src": [UNSAFE_INLINE]})(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema")
        ),
        name="api-docs",
    ),
    path("healthz", views.healthz, name="healthz"),
    path("", include("django_prometheus.urls")),
]
