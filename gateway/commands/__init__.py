"""CLI sub-commands that belong to no single room (settings, quoting, catalog)."""
