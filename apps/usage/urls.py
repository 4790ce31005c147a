"""Usage pages for the site root, and their API endpoints for /api/v1/."""

from django.urls import path

from apps.usage import api, views

urlpatterns = [
    path(
        "connections/<int:pk>/billing-export/",
        views.billing_export,
        name="billing-export",
    ),
]

api_urlpatterns = [
    path(
        "connections/<int:pk>/billing-export/",
        api.BillingExportView.as_view(),
        name="billing-export-api",
    ),
]
