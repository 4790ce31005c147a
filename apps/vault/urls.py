from django.urls import path

from apps.vault import views, views_leaks

urlpatterns = [
    path("", views.key_list, name="key-list"),
    path("new/", views.key_create, name="key-create"),
    path("<int:pk>/", views.key_detail, name="key-detail"),
    path("<int:pk>/edit/", views.key_edit, name="key-edit"),
    path("<int:pk>/reveal/", views.key_reveal, name="key-reveal"),
    path("<int:pk>/rotate/", views.key_rotate, name="key-rotate"),
    path("<int:pk>/revoke/", views.key_revoke, name="key-revoke"),
    path("leak-check/", views_leaks.leak_check, name="leak-check"),
]
