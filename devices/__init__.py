"""storegate devices: drivers that turn device bytes into typed events, and simulators.

Nothing in here knows about prices, the journal or the network.
"""
