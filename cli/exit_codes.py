"""Named exit codes (a public contract)."""
OK = 0
ERROR = 1
USAGE = 2
WARNINGS = 3          # completed, with warnings recorded
INTEGRITY_FAILURE = 4  # verify / custody / bundle mismatch
KEY_NOT_CHECKED = 5    # verify-bundle: intact, but not checked against the examiner's key (no --pubkey):
                       # signed only with the key inside the bundle, or not signed
INTERRUPTED = 130     # Ctrl-C (128 + SIGINT, as shells report it)
