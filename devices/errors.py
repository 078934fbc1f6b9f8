"""Errors of the devices room that a technician can act on (wrong port, baud, protocol,
printer offline). Each says what, where and how to fix; the CLI prints them without a
traceback. Decoders never raise these for bad input — they emit `DecodeFault` events."""

from __future__ import annotations

from gateway.errors import StoregateError


class DeviceError(StoregateError):
    """Base of device failures a person can fix (cabling, settings, paper)."""

    exit_code = 4


class DeviceNotFound(DeviceError):
    """The configured port / input device / printer address does not exist right now."""


class ScaleNoAnswer(DeviceError):
    """The scale sent nothing within the reply timeout."""


class ScaleGarbled(DeviceError):
    """The scale answered, but not in the configured protocol."""


class PrinterOffline(DeviceError):
    """The printer cannot be reached or does not accept data within the timeout."""


class PrinterNotReady(DeviceError):
    """The printer answered its status: paper out, cover open or an error."""


class ProfileError(DeviceError):
    """A printer profile or keyboard layout file is missing or invalid."""
