"""The sinks the outbox drains into, as peers: the NGSI-LD broker, the city graph, a webhook."""
