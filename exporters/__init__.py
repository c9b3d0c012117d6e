"""Exporters: geotags, the timeline, and court-ready evidence bundles."""
