"""State badges: a message or event state as a small coloured label, the same on every page."""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeString

# State -> badge colour class (styles.html); unknown states get the neutral one.
TONES = {"pending": "wait", "created": "wait", "active": "busy", "retry": "warn",
         "error": "warn", "delivered": "good", "failed": "bad", "canceled": "mute",
         "cancel_requested": "mute", "purged": "mute", "in_progress": "busy"}


def state_badge(state: str) -> SafeString:
    text = str(state or "").lower()
    return format_html('<span class="qstash-badge qstash-badge-{}">{}</span>',
                       TONES.get(text, "mute"), text.replace("_", " ") or "–")
