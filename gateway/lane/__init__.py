"""The lane: one till's checkout as a pure state machine fed typed events.

Modules: `records` (journal bodies), `events` (what the lane is fed), `staff` (roles, PINs,
overrides, TOTP), `machine` (the transition table and the sale in progress), `store` (the
lane's own tables and journal appends), `cli` (`gateway receipt`, `gateway report`, staff).
No device I/O, no network, no threads: time and ids are injected.
"""
