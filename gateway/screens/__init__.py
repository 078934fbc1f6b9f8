"""The cashier and customer screens: a local web UI served by the box, and the pole display
feed.

Modules: `settings` ([screens]), `money` (the store's currency format), `view` (lane
state -> what the screens show, as plain strings), `keys` (key presses and touches ->
lane events), `hub` (the in-process adapter over one lane that the pages and the pole
display follow), `app` (the Starlette app: pages, server-sent
events, actions, staff login), `pole` (what the pole display shows), `serve` (uvicorn with
loopback / LAN / HTTPS rules). The screens never price and never write the journal: the
lane does both; they only render its state and hand it events. Their words, in English
and Chinese, are `gateway.i18n`'s (shared with the receipts).

This package imports nothing heavy at import time (gateway.settings imports `settings`).
"""
