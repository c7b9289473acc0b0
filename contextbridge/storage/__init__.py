"""What is kept in SQLite or PostgreSQL beside the outbox: the device registry, the API keys."""
