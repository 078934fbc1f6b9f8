"""The box's daemon room: `gateway run`, the control socket, backups, doctor, anomalies,
the install script and `gateway demo`.

Owns the wiring between the rooms (devices -> lane -> journal -> printer, sync) and the
process life cycle (systemd notify, watchdog, signals). It must not reach into another
room's internals: it uses their public APIs only.
"""
