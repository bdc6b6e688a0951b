"""Error types: one root, API errors carrying an HTTP status, delivery errors that are retryable."""

from __future__ import annotations


class QStashError(Exception):
    """Root of every error this package raises on purpose."""


class ApiError(QStashError):
    """An error the API turns into ``{"error": message}`` with ``status``."""

    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class BadRequest(ApiError):
    status = 400


class InvalidHeader(BadRequest):
    """A header name or value that no HTTP request may carry (CR, LF, NUL, a space in a name)."""


class NotFound(ApiError):
    status = 404


class LengthRequired(ApiError):
    status = 411


class PayloadTooLarge(ApiError):
    status = 413


class DestinationRefused(QStashError):
    """A delivery target that policy forbids (e.g. a private address in production)."""
