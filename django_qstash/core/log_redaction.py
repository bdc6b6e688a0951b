"""Keep API tokens out of request logs: ``?qstash_token=…`` shows as ``qstash_token=REDACTED``."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

# Request logs that print the request line, query string included (the dev server's and
# runserver's "django.server").
REQUEST_LOGGERS = ("django.server",)
TOKEN_PARAMETER = "qstash_token"
REDACTED = "REDACTED"
# One query parameter: its name may be percent-encoded (Django decodes it before reading).
_PARAMETER = re.compile(r"(?P<lead>[?&;])(?P<name>[^=&;\s\"']+)=(?P<value>[^&;\s\"']*)")


def redact_tokens(text: str) -> str:
    if "=" not in text:
        return text

    def replace(match: re.Match) -> str:
        if unquote_plus(match["name"]) != TOKEN_PARAMETER:
            return match[0]
        return f"{match['lead']}{match['name']}={REDACTED}"

    return _PARAMETER.sub(replace, text)


class RedactTokens(logging.Filter):
    """Rewrites a record's message and string arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_tokens(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_tokens(a) if isinstance(a, str) else a
                                for a in record.args)
        return True


def install() -> None:
    """Add the filter to the request loggers once (AppConfig.ready may run more than once)."""
    for name in REQUEST_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
