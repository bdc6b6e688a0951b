"""Include these at your site root: the QStash API lives under /v2/."""

from django.urls import include, path

from .metrics import metrics_view

urlpatterns = [path("", include("django_qstash.api.urls"))]
urlpatterns += [path("metrics", metrics_view, name="qstash-metrics")]
