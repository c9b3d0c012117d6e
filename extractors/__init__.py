"""Artifact extractors: typed records from file contents."""
