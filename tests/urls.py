"""Test URLconf: the API and the admin, as a project would mount them."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("django_qstash.urls")),
]
