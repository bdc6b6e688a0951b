"""Celery's Redis transport, publishing through one Redis client per channel instead of a new one each time."""

from __future__ import annotations

from kombu.transport import redis


class Channel(redis.Channel):
    def _create_client(self, asynchronous=False):
        # kombu builds a new redis.Redis for every publish, and filling its table of response
        # callbacks cost more than the LPUSH itself. Redis clients are safe to share between
        # threads (each command takes a connection from the pool); the asynchronous ones of
        # the worker's event loop stay as kombu makes them.
        if asynchronous:
            return super()._create_client(asynchronous)
        client = self.__dict__.get("_shared_client")
        if client is None or client.connection_pool is not self.pool:  # new pool: reconnected
            client = self.__dict__["_shared_client"] = super()._create_client(False)
        return client


class Transport(redis.Transport):
    Channel = Channel
