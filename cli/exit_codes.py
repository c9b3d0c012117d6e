"""Named exit codes (a public contract)."""
OK = 0
ERROR = 1
USAGE = 2
WARNINGS = 3          # completed, with warnings recorded
INTEGRITY_FAILURE = 4  # verify / custody / bundle mismatch
INTERRUPTED = 130     # Ctrl-C (128 + SIGINT, as shells report it)
