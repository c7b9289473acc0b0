"""Draining the outbox into a sink: claiming, sending with retries, acknowledging, dead-lettering."""
