"""Test and demo harness: brokers the tests and the demo start, a reference receiver, a
fleet simulator, the scripted demos (`gateway demo`, `python -m gateway.harness.screens_demo`).

Kept apart so that `gateway run` never imports it (an import-linter contract in
pyproject.toml, and a test that runs the daemon without the demo's libraries): none of it
belongs on a shop's box at run time.
"""
