"""django_qstash: a self-hosted QStash-compatible message queue and QStash signature verification."""

__version__ = "0.1.0"
