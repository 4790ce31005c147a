from django.urls import path

from apps.projects import views

urlpatterns = [
    path("", views.project_list, name="project-list"),
    path("new/", views.project_create, name="project-create"),
    path(
        "environments/<int:pk>/edit/", views.environment_edit, name="environment-edit"
    ),
    path("environments/<int:pk>/row/", views.environment_row, name="environment-row"),
    path(
        "environments/<int:pk>/archive/",
        views.environment_archive,
        name="environment-archive",
    ),
    path(
        "environments/<int:pk>/restore/",
        views.environment_restore,
        name="environment-restore",
    ),
    path("<slug:slug>/", views.project_detail, name="project-detail"),
    path("<slug:slug>/edit/", views.project_edit, name="project-edit"),
    path("<slug:slug>/archive/", views.project_archive, name="project-archive"),
    path("<slug:slug>/restore/", views.project_restore, name="project-restore"),
    path(
        "<slug:slug>/environments/new/",
        views.environment_create,
        name="environment-create",
    ),
]
