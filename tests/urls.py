"""Test URLconf: the API and the admin, as a project would mount them."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("django_qstash.urls")),
]
# Requests Django refuses before any view (a bad Host header): JSON on the API's paths.
handler400 = "django_qstash.api.errors.bad_request"
