"""Routes: the QStash API at /v2/, the Django admin at /admin/."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("example/", include("example_project.receiver")),  # demo receiver: /example/hook
    path("", include("django_qstash.urls")),
]
# Requests Django refuses before any view (a bad Host header): JSON on the API's paths.
handler400 = "django_qstash.api.errors.bad_request"
