from django.urls import path

from apps.keyrequests import views

urlpatterns = [
    path("", views.request_list, name="request-list"),
    path("new/", views.request_create, name="request-create"),
    path("<int:pk>/", views.request_detail, name="request-detail"),
    path("<int:pk>/approve/", views.request_approve, name="request-approve"),
    path("<int:pk>/issue/", views.request_issue, name="request-issue"),
    path("<int:pk>/reject/", views.request_reject, name="request-reject"),
    path("<int:pk>/cancel/", views.request_cancel, name="request-cancel"),
    path("<int:pk>/secret/", views.request_secret, name="request-secret"),
]
