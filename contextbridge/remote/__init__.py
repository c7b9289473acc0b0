"""Talking to a remote, for sources, lookups and sinks alike: the retry policy, HTTP auth, Retry-After, ProblemDetails."""
