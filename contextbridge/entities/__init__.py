"""NGSI-LD entities: the ontology and its @context, entity validation, Smart Data Models constraints, update policies and the entity → RDF conversion."""
