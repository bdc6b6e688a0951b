"""Upstash Workflow runs on this server: the protocol, and the official SDKs driving it."""
