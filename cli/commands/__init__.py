"""One module per command group; each exposes COMMANDS."""
