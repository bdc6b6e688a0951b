"""Long-running processes keep what start-up built out of the garbage collector's full passes."""

from __future__ import annotations

import gc

from django_qstash.conf import qstash_settings


def freeze_startup_objects(*, load_urls: bool = False) -> bool:
    """Move every object alive now to the collector's permanent generation.

    What start-up built (Django's apps and models, the URLconf, Celery) lives as long as the
    process, yet each full collection walked all of it again: 40-110 ms pauses every few
    seconds in web and worker processes, which every message in flight waited out. Called
    once start-up is done (and in each forked child); False when the QSTASH setting
    ``FREEZE_STARTUP_HEAP`` turns it off.
    """
    if not qstash_settings.FREEZE_STARTUP_HEAP:
        return False
    if load_urls:  # imported on the first request otherwise, after the freeze
        from django.urls import get_resolver

        get_resolver().url_patterns  # noqa: B018 - loading is the point
    gc.collect()
    gc.freeze()
    return True
