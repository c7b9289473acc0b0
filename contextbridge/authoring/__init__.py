"""Tools for mapping authors: drafting, lint, type descriptions, golden samples."""
