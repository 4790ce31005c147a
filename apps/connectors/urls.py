from django.urls import path

from apps.connectors import views

urlpatterns = [
    path("", views.connection_list, name="connection-list"),
    path("new/", views.connection_create, name="connection-create"),
    path("<int:pk>/", views.connection_detail, name="connection-detail"),
    path("<int:pk>/sync/", views.connection_sync, name="connection-sync"),
    path("<int:pk>/edit/", views.connection_edit, name="connection-edit"),
    path("<int:pk>/test/", views.connection_test, name="connection-test"),
    path("<int:pk>/delete/", views.connection_delete, name="connection-delete"),
]
