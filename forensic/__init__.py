"""forensic: evidence triage toolkit."""
__version__ = "0.1.0"
