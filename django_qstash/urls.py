"""Include these at your site root: the QStash API lives under /v2/."""

from django.urls import include, path

urlpatterns = [path("", include("django_qstash.api.urls"))]
