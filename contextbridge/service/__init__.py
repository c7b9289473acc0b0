"""The adapter service: SPARQL endpoint, Orion-LD notification receiver, @context, health, web console.

    from contextbridge.service import Service, create_app
    app = create_app(Service.from_config(config, state_dir=Path(".contextbridge")))

One module per concept: ``app`` (the Service and its lifespan), ``auth`` (API keys, tenants),
``sparql`` (the SPARQL 1.1 Protocol), ``notify`` (notifications), ``contexts`` and ``keyvalues``
(reading what Orion-LD sends), ``health``, ``context``, ``problems`` (ProblemDetails answers); for
the web console: ``webconsole`` (its files), ``status``, ``deadletters``, ``mappings`` (and the
example questions), ``playground``.
"""

from __future__ import annotations

from .app import Service, create_app
from .auth import Authenticator
from .problems import HTTPProblem

__all__ = ["Authenticator", "HTTPProblem", "Service", "create_app"]
