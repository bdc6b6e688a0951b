"""Routes: the QStash API at /v2/, the Django admin at /admin/."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("django_qstash.urls")),
]
