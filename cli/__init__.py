"""The forensic command line (Click)."""
