"""The mapping language: field paths, expressions, templates, lookups, units and times, compiled from a mapping document and applied by the translator."""
