from django.urls import path

from apps.catalog import views

urlpatterns = [
    path("", views.model_list, name="model-list"),
    path("overrides/new/", views.override_create, name="override-create"),
    path("overrides/<int:pk>/delete/", views.override_delete, name="override-delete"),
    path("tiers/", views.tier_update, name="model-tier-update"),
]
