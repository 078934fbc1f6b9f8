"""Cloud sync over MQTT: journal uplink with end-to-end acknowledgement, telemetry, signed
downlink and commands (issue 5). The wire contract is docs/protocol.md.

Pure parts (no sockets, threads or clock): `topics`, `payloads`, `uplink`, `backoff`,
`signing`, `telemetry.TelemetryPolicy`, `wire.take_batch`. With files: `store` (sync's own
SQLite: bounded outbox, versions, command ids), `wire.WireReader` (journal, read-only),
`downlink` and `commands` (checks, at-most-once). The paho adapter is `link`, driven by
the one thread of `service.SyncService`; `cli` is `gateway sync status`.
Test and benchmark harness, not used by the box: `receiver` (a minimal head office) and
`testing` (Mosquitto, link proxy, TLS material).
"""
