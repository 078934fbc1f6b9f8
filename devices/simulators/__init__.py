"""Simulated devices for tests, benchmarks and bench work without hardware.

Each simulator speaks the real transport (a pseudo-terminal from `os.openpty`, a TCP
socket) so the drivers under test run unchanged with real pyserial and real sockets.
Nothing here is imported by the drivers.
"""
