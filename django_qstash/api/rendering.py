"""JSON answers that always encode: text stored before lone surrogates were refused is escaped."""

from __future__ import annotations

import json

from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer


def encode_json(data) -> bytes:
    """What DRF's JSONRenderer writes (compact, UTF-8). A lone surrogate cannot be UTF-8:
    such a document goes out ASCII-escaped ("\\ud800"), still valid JSON, rather than a 500."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode()
    except UnicodeEncodeError:
        return json.dumps(data, ensure_ascii=True, separators=(",", ":")).encode()


class QStashJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            self.ensure_ascii = True  # this instance renders this one response
            return super().render(data, accepted_media_type, renderer_context)


class JSONOnly(BaseContentNegotiation):
    """The API answers JSON whatever the client asks for, as QStash does (and the lean POST
    path): neither ``Accept`` nor ``?format=`` is consulted; ``format`` may well belong to a
    publish destination's own query string. Request bodies are read raw, never parsed."""

    def select_parser(self, request, parsers):
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
