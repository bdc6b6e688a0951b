"""Include these at your site root: the QStash API lives under /v2/."""

from django.urls import path

from django_qstash.api.urls import urlpatterns as api_urlpatterns
from django_qstash.engine.metrics import metrics_view
from django_qstash.tasks_backend.endpoint import run_task_view

# The API's routes themselves, not an include of them: one resolver level less per request.
urlpatterns = [
    *api_urlpatterns,
    path("metrics", metrics_view, name="qstash-metrics"),
    # Deliveries of the django.tasks backend (django_qstash.tasks_backend) come back here.
    path("qstash/tasks/<str:alias>", run_task_view, name="qstash-task-run"),
]
