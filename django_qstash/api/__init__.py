"""The QStash-compatible HTTP API (v2), built on Django REST framework."""
