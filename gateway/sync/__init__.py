"""Cloud sync over MQTT: journal uplink with end-to-end acknowledgement, telemetry, signed
downlink and commands (issue 5). See docs/protocol.md for the wire contract.

Pure parts (no sockets, no threads, no clock): topics, payloads, uplink, backoff, downlink,
commands, telemetry policy. The paho adapter (`service`) drives them.
"""
