"""Signed software updates of the box: the bundle and its manifest, the update state
machine (pure), and the adapters that download, verify, install into a new virtual
environment, switch, check and roll back (docs/install.md, "Software updates")."""
