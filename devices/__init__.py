"""storegate devices: drivers that turn device bytes into typed events, and simulators.

Nothing in here knows about prices, the journal or the network.

Layout (see docs/devices.md):
- `events` — the typed events every driver delivers (scan, weight, card, state, fault).
- pure decoders, fed bytes or `evdev.InputEvent`s: `wedge` (+ `keymaps` and the layouts in
  `profiles/keyboard-*.json`), `scanner`, `cards`, `scale_protocols`, `printer_status`.
- thin adapters that own ports and time: `serial_scanner`, `scale_driver`, `inputs`
  (evdev), `printer` (python-escpos), with `serial_line`, `hotplug` (reconnect backoff)
  and `discovery` (what is plugged in, which role claims it, why not).
- `runner` wires `[devices]` settings (`settings`) into running loops; `cli` is
  `gateway devices ...`; `simulators/` are the pty / TCP stand-ins used by tests and bench.
"""
