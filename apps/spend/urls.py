"""Spend pages under /spend/, and the spend endpoints for /api/v1/."""

from django.urls import path

from apps.spend import api, api_exports, views, views_exports, views_scopes

urlpatterns = [
    path("", views.overview, name="spend-overview"),
    path("explorer/", views.explorer, name="spend-explorer"),
    path("teams/<int:pk>/", views_scopes.team, name="spend-team"),
    path("projects/<int:pk>/", views_scopes.project, name="spend-project"),
    path("keys/<int:pk>/", views_scopes.key, name="spend-key"),
    path("caching/", views_scopes.caching, name="spend-caching"),
    path("reconciliation/", views_scopes.reconciliation, name="spend-reconciliation"),
    path("chargeback/", views_exports.chargeback, name="spend-chargeback"),
    path("focus/", views_exports.focus, name="spend-focus"),
]

api_urlpatterns = [
    path("spend/", api.SpendView.as_view(), name="spend"),
    path("spend/chargeback/", api_exports.ChargebackView.as_view(), name="chargeback"),
    path("spend/focus/", api_exports.FocusView.as_view(), name="focus"),
]
