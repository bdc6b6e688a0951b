"""One delivery attempt as plain data: the request to send and the outcome it got."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DeliveryRequest:
    url: str
    method: str
    headers: dict[str, list[str]]  # forwarded headers, Content-Type included
    body: bytes
    timeout_seconds: float
    message_id: str
    retried: int
    extra_headers: dict[str, str] = field(default_factory=dict)  # Upstash-Topic-Name, …


@dataclass
class DeliveryOutcome:
    status: int | None  # None when no HTTP response arrived
    headers: dict[str, list[str]]
    body: bytes
    error: str
    duration_ms: int
    non_retryable: bool = False

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300
