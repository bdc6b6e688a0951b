"""Coloured state badges for admin lists, readable in the admin's light and dark themes."""

from __future__ import annotations

from django.utils.html import format_html

# RGB of each tone; the badge tints its background and border with it and keeps the theme's
# text colour, so it reads on a light and on a dark page alike.
TONES = {"green": "46, 160, 67", "red": "218, 54, 51", "orange": "230, 126, 34",
         "blue": "47, 129, 247", "grey": "140, 140, 140"}
STATE_TONES = {
    "delivered": "green", "failed": "red", "error": "red", "retry": "orange",
    "active": "blue", "pending": "grey", "created": "grey", "canceled": "grey",
    "cancel_requested": "orange", "paused": "orange", "running": "green",
}


def badge(text: str, tone: str | None = None) -> str:
    rgb = TONES[tone or STATE_TONES.get(text.lower(), "grey")]
    return format_html(
        '<span class="qstash-badge qstash-badge-{}" style="display: inline-block; '
        'padding: 0 8px; border-radius: 9px; white-space: nowrap; font-size: 0.75rem; '
        'line-height: 1.5; color: inherit; background: rgba({}, 0.18); '
        'border: 1px solid rgba({}, 0.6);">{}</span>',
        text.lower(), rgb, rgb, text)
