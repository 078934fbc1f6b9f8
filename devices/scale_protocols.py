"""Serial scale protocols as data, and the pure readers that turn their frames into readings.

Owns: one `ScaleProtocol` record per protocol (line settings, command bytes, reply framing,
status-bit tables, source), the frame splitter and the frame parsers. Pure: fed bytes, no
pyserial, no clock (the driver stamps readings) — `devices.scale_driver` owns the port.

Sources (device-protocols.md §1, cited by key):
- Toledo 8217: `W` -> `STX weight [N] CR` or `STX ? status CR`; status bits 0 motion,
  1 over capacity, 2 under zero, 3 outside zero capture, 4 centre of zero, 5 net, 6 always
  1 [DIVA-8217-CMD][DIVA-8217-STAT]; 9600 7E1 [ODOO-SSD]; Odoo's regexes tolerate leading
  spaces [ODOO-SSD].
- NCI / Avery Weigh-Tronix SCP-01: `W<CR>` -> `LF weight units CR LF status CR ETX`, or
  status only; status bytes 0x30-0x3F (bit 6 of byte 2+ = another byte follows), optional
  `S` prefix (DIVA), units upper or lower case; `LF ? CR ETX` = unknown command; 7 data
  bits [DIVA-NCI][DIVA-NCI-STAT][AWT-7821].
- MT-SICS: `S`/`SI` -> `S S <value> <unit>` (stable) / `S D` (dynamic) / `S I` / `S +` /
  `S -`; `ES` `ET` `EL` errors; CR LF; 9600 8N1 [MT-AT][ATL-MTSICS][JANELIA-MT]. Parsed by
  whitespace because the value field is space-padded [IK-MTSICS].
- CAS continuous: `ST|US|OL , GS|NT , [id lamp ,] weight unit CR LF` (22-byte format) and
  the generic `ST,GS,+  1.234kg` lines; `ERR` frames [CAS-CI600D][SELLETON][CAS-CI6000A].
Hardware folklore worth keeping: a Brecknell SCP-12 variant inverts the NCI status
polarity [BRECK-SCP12] — not supported here; check a new NCI scale with `gateway devices
scale` before trusting "motion".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from devices.events import WeightStatus


@dataclass(frozen=True, slots=True)
class ScaleAnswer:
    """What one frame says; `garbled` marks frames that are not this protocol at all."""

    status: WeightStatus
    weight: Decimal | None = None
    unit: str | None = None
    net: bool = False
    detail: str = ""
    garbled: bool = False


@dataclass(frozen=True, slots=True)
class CommandResult:
    ok: bool
    detail: str


@dataclass(frozen=True)
class ScaleProtocol:
    """One protocol as data; adding a scale is mostly adding one of these."""

    name: str
    title: str
    baudrate: int
    bytesize: int
    parity: str  # "N", "E", "O"
    stopbits: int
    weigh_command: bytes | None  # None: the scale streams frames by itself
    zero_command: bytes | None
    tare_command: bytes | None
    frame_start: bytes | None  # bytes before it are line noise
    frame_end: bytes
    max_frame: int
    parse: Callable[[bytes, str | None], ScaleAnswer]
    parse_ack: Callable[[bytes], CommandResult] | None
    source: str

    @property
    def continuous(self) -> bool:
        return self.weigh_command is None

    def bits_per_char(
        self, bytesize: int | None = None, parity: str | None = None, stopbits: int | None = None
    ) -> int:
        """Start bit + data + parity + stop: the line time of one byte, in bits."""
        parity = parity or self.parity
        return 1 + (bytesize or self.bytesize) + (parity != "N") + (stopbits or self.stopbits)


class FrameSplitter:
    """Cuts a byte stream into frames by start/end markers; never by timeout.

    Bytes before `frame_start` and frames longer than `max_frame` are counted as noise.
    After `resync()` (continuous scales, after flushing the port) the first frame is
    discarded because it may have begun before the flush.
    """

    def __init__(self, start: bytes | None, end: bytes, max_frame: int) -> None:
        self.start = start
        self.end = end
        self.max_frame = max_frame
        self._buffer = bytearray()
        self.noise = 0
        self._skip_first = False

    def clear(self) -> None:
        self._buffer.clear()
        self.noise = 0
        self._skip_first = False

    def resync(self) -> None:
        self.clear()
        self._skip_first = True

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer.extend(data)
        frames: list[bytes] = []
        while True:
            if self.start is not None and not self._skip_first:
                at = self._buffer.find(self.start)
                dropped = len(self._buffer) if at < 0 else at
                self.noise += dropped
                del self._buffer[:dropped]
                if at < 0:
                    break
            end = self._buffer.find(self.end, 1 if self.start is not None else 0)
            if end < 0:
                if len(self._buffer) > self.max_frame:
                    self.noise += len(self._buffer)
                    self._buffer.clear()
                break
            frame = bytes(self._buffer[: end + len(self.end)])
            del self._buffer[: end + len(self.end)]
            if self._skip_first:
                self._skip_first = False
                continue
            if len(frame) > self.max_frame:
                self.noise += len(frame)
                continue
            frames.append(frame)
        return frames


# -- shared helpers ----------------------------------------------------------------------
NUMBER = re.compile(rb"^\s*([+-]?)\s*([0-9]*\.?[0-9]+)\s*$")


def _decimal(sign: bytes | str, digits: bytes | str) -> Decimal | None:
    text = (sign.decode() if isinstance(sign, bytes) else sign) + (
        digits.decode() if isinstance(digits, bytes) else digits
    )
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _weighed(weight: Decimal, unit: str | None, net: bool = False, detail: str = "") -> ScaleAnswer:
    if weight < 0:
        return ScaleAnswer(WeightStatus.UNDER_ZERO, weight, unit, net, detail)
    if weight == 0:
        return ScaleAnswer(WeightStatus.ZERO, weight, unit, net, detail)
    return ScaleAnswer(WeightStatus.STABLE, weight, unit, net, detail)


def _garbled(protocol: str, frame: bytes) -> ScaleAnswer:
    return ScaleAnswer(
        WeightStatus.ERROR, detail=f"not a {protocol} frame: {frame!r}", garbled=True
    )


# -- Toledo 8217 -------------------------------------------------------------------------
TOLEDO_STATUS_BITS = {
    0: "in motion",
    1: "over capacity",
    2: "under zero",
    3: "outside zero capture range",
    4: "centre of zero",
    5: "net weight",
}
TOLEDO_WEIGHT = re.compile(rb"^\x02\s*([0-9]*\.?[0-9]+)(N?)\r$")
TOLEDO_STATUS = re.compile(rb"^\x02\?(.)\r$", re.DOTALL)


def _toledo_flags(status_byte: int) -> set[int]:
    bits = status_byte & 0x7F  # bit 7 is the parity bit when the UART passes it through
    return {bit for bit in TOLEDO_STATUS_BITS if bits & (1 << bit)}


def parse_toledo8217(frame: bytes, unit: str | None) -> ScaleAnswer:
    if match := TOLEDO_WEIGHT.match(frame):
        digits, net = match.group(1), match.group(2) == b"N"
        decimals = len(digits.split(b".")[1]) if b"." in digits else 0
        weight = _decimal("", digits)
        assert weight is not None  # the regex admits only digits and one point
        return _weighed(weight, unit or ("lb" if decimals == 2 else "kg"), net)
    if match := TOLEDO_STATUS.match(frame):
        byte = match.group(1)[0]
        if not byte & 0x40:
            return _garbled("Toledo 8217", frame)  # bit 6 is always 1 [DIVA-8217-STAT]
        flags = _toledo_flags(byte)
        words = ", ".join(TOLEDO_STATUS_BITS[b] for b in sorted(flags)) or "no flags"
        net = 5 in flags
        if 1 in flags:
            return ScaleAnswer(WeightStatus.OVER_CAPACITY, net=net, detail=words)
        if 2 in flags:
            return ScaleAnswer(WeightStatus.UNDER_ZERO, net=net, detail=words)
        if 0 in flags:
            return ScaleAnswer(WeightStatus.MOTION, net=net, detail=words)
        if 4 in flags:
            return ScaleAnswer(WeightStatus.ZERO, net=net, detail=words)
        return ScaleAnswer(WeightStatus.ERROR, net=net, detail=f"status without weight ({words})")
    return _garbled("Toledo 8217", frame)


def ack_toledo8217(frame: bytes) -> CommandResult:
    if match := TOLEDO_STATUS.match(frame):
        flags = _toledo_flags(match.group(1)[0]) - {3, 4, 5}
        words = ", ".join(TOLEDO_STATUS_BITS[b] for b in sorted(flags))
        return CommandResult(not flags, words or "done")
    return CommandResult(False, f"unexpected reply {frame!r}")


# -- NCI / Avery Weigh-Tronix ------------------------------------------------------------
NCI_BITS = (
    {0: "in motion", 1: "at zero", 2: "RAM error", 3: "EEPROM error"},
    {0: "under capacity", 1: "over capacity", 2: "ROM error", 3: "faulty calibration"},
    {2: "net", 3: "initial zero error"},
    {0: "weight changed", 1: "zero detected", 2: "metric"},
)
NCI_ERRORS = {(0, 2), (0, 3), (1, 2), (1, 3), (2, 3)}
NCI_WEIGHT = re.compile(rb"^\s*([+-]?)\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]{1,3})\s*$")
NCI_LB_OZ = re.compile(rb"^\s*([0-9]+)\s*LB\s+([0-9]*\.?[0-9]+)\s*OZ\s*$", re.IGNORECASE)


def _nci_status(line: bytes) -> list[set[int]] | None:
    """Status bytes -> set bits per byte; None if this is not an NCI status field."""
    if line[:1] == b"S":
        line = line[1:]  # DIVA prefixes the status with S [DIVA-NCI-2]
    if len(line) < 2 or len(line) > 4:
        return None
    out: list[set[int]] = []
    for index, byte in enumerate(line):
        byte &= 0x7F
        if byte & 0x30 != 0x30 or (index == 0 and byte & 0x40):
            return None
        more = bool(byte & 0x40)
        if more != (index < len(line) - 1) and index > 0:
            return None
        out.append({bit for bit in range(4) if byte & (1 << bit)})
    return out


def parse_nci(frame: bytes, unit: str | None) -> ScaleAnswer:
    body = frame[1:-1]  # without LF ... ETX
    lines = [part.strip(b"\n") for part in body.split(b"\r")]
    lines = [line for line in lines if line]
    if lines == [b"?"]:
        return ScaleAnswer(
            WeightStatus.ERROR, detail="scale did not understand the command", garbled=True
        )
    if not 1 <= len(lines) <= 2 or (status := _nci_status(lines[-1])) is None:
        return _garbled("NCI", frame)
    words = [
        NCI_BITS[i][b] for i, bits in enumerate(status) for b in sorted(bits) if b in NCI_BITS[i]
    ]
    net = 2 in status[2] if len(status) > 2 else False
    errors = [NCI_BITS[i][b] for i, bits in enumerate(status) for b in bits if (i, b) in NCI_ERRORS]
    if errors:
        return ScaleAnswer(WeightStatus.ERROR, net=net, detail=", ".join(errors))
    if 1 in status[1]:
        return ScaleAnswer(WeightStatus.OVER_CAPACITY, net=net, detail=", ".join(words))
    if 0 in status[1]:
        return ScaleAnswer(WeightStatus.UNDER_ZERO, net=net, detail=", ".join(words))
    if 0 in status[0]:
        return ScaleAnswer(WeightStatus.MOTION, net=net, detail=", ".join(words))
    if len(lines) == 1:
        if 1 in status[0]:
            return ScaleAnswer(WeightStatus.ZERO, net=net, detail=", ".join(words))
        return ScaleAnswer(WeightStatus.ERROR, net=net, detail="status without weight")
    if match := NCI_LB_OZ.match(lines[0]):
        weight = Decimal(match.group(1).decode()) + Decimal(match.group(2).decode()) / 16
        return _weighed(weight, "lb", net)
    if match := NCI_WEIGHT.match(lines[0]):
        value = _decimal(match.group(1), match.group(2))
        if value is not None:
            return _weighed(value, match.group(3).decode().lower(), net)
    return _garbled("NCI", frame)


def ack_nci(frame: bytes) -> CommandResult:
    answer = parse_nci(frame, None)
    if answer.garbled or answer.status in (WeightStatus.ERROR, WeightStatus.MOTION):
        return CommandResult(False, answer.detail)
    return CommandResult(True, answer.detail or "done")


# -- MT-SICS -----------------------------------------------------------------------------
SICS_ERRORS = {
    "ES": "syntax error: command not recognised (wrong protocol or level?)",
    "ET": "transmission error (parity or baud rate?)",
    "EL": "logical error: command cannot be executed",
}


def parse_mtsics(frame: bytes, unit: str | None) -> ScaleAnswer:
    try:
        tokens = frame.decode("ascii").split()
    except UnicodeDecodeError:
        return _garbled("MT-SICS", frame)
    if len(tokens) == 1 and tokens[0] in SICS_ERRORS:
        return ScaleAnswer(WeightStatus.ERROR, detail=SICS_ERRORS[tokens[0]])
    if len(tokens) < 2 or tokens[0] not in ("S", "SI"):
        return _garbled("MT-SICS", frame)
    status = tokens[1]
    if status == "I" and len(tokens) == 2:
        return ScaleAnswer(WeightStatus.MOTION, detail="not executable now (busy or not stable)")
    if status == "+" and len(tokens) == 2:
        return ScaleAnswer(WeightStatus.OVER_CAPACITY, detail="overload")
    if status == "-" and len(tokens) == 2:
        return ScaleAnswer(WeightStatus.UNDER_ZERO, detail="underload")
    if status in ("S", "D") and len(tokens) == 4:
        match = NUMBER.match(tokens[2].encode())
        weight = _decimal(match.group(1), match.group(2)) if match else None
        if weight is not None:
            if status == "D":
                return ScaleAnswer(WeightStatus.MOTION, weight, tokens[3], detail="dynamic")
            return _weighed(weight, tokens[3])
    return _garbled("MT-SICS", frame)


def ack_mtsics(frame: bytes) -> CommandResult:
    tokens = frame.decode("ascii", errors="replace").split()
    if not tokens:
        return CommandResult(False, "empty reply")
    if tokens[0] in SICS_ERRORS:
        return CommandResult(False, SICS_ERRORS[tokens[0]])
    code = tokens[1] if len(tokens) > 1 else ""
    meaning = {
        "A": "done",
        "S": "done",
        "D": "done (dynamic)",
        "I": "not executed (busy)",
        "+": "upper limit exceeded",
        "-": "lower limit exceeded",
    }.get(code, f"reply {frame!r}")
    return CommandResult(code in ("A", "S", "D"), meaning)


# -- CAS continuous ----------------------------------------------------------------------
CAS_WEIGHT = re.compile(r"^\s*([+-]?)\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]{1,3})\s*$")


def parse_cas(frame: bytes, unit: str | None) -> ScaleAnswer:
    text = frame.decode("latin-1").rstrip("\r\n")
    if text.replace(" ", "").startswith("ERR"):
        return ScaleAnswer(WeightStatus.ERROR, detail=f"indicator error {text.strip()}")
    fields = text.split(",")
    if len(fields) < 3 or fields[0] not in ("ST", "US", "OL") or fields[1] not in ("GS", "NT"):
        return _garbled("CAS", frame)
    net = fields[1] == "NT"
    if fields[0] == "OL":
        return ScaleAnswer(WeightStatus.OVER_CAPACITY, net=net, detail="overload")
    match = CAS_WEIGHT.match(fields[-1])
    weight = _decimal(match.group(1), match.group(2)) if match else None
    if match is None or weight is None:
        return _garbled("CAS", frame)
    found_unit = match.group(3).lower()
    if fields[0] == "US":
        return ScaleAnswer(WeightStatus.MOTION, weight, found_unit, net, "unstable")
    return _weighed(weight, found_unit, net)


# -- the registry (data) -----------------------------------------------------------------
PROTOCOLS: dict[str, ScaleProtocol] = {
    p.name: p
    for p in (
        ScaleProtocol(
            name="toledo8217",
            title="Mettler Toledo 8217 (weight-only ECR)",
            baudrate=9600,
            bytesize=7,
            parity="E",
            stopbits=1,
            weigh_command=b"W",
            zero_command=b"Z",
            tare_command=b"T",
            frame_start=b"\x02",
            frame_end=b"\r",
            max_frame=16,
            parse=parse_toledo8217,
            parse_ack=ack_toledo8217,
            source="DIVA service manual §6.1.3.2 and status byte table; Odoo SerialScaleDriver",
        ),
        ScaleProtocol(
            name="mtsics",
            title="Mettler Toledo MT-SICS (S / SI / Z / T)",
            baudrate=9600,
            bytesize=8,
            parity="N",
            stopbits=1,
            weigh_command=b"SI\r\n",
            zero_command=b"Z\r\n",
            tare_command=b"T\r\n",
            frame_start=None,
            frame_end=b"\r\n",
            max_frame=64,
            parse=parse_mtsics,
            parse_ack=ack_mtsics,
            source="MT-SICS reference manual; Mettler Toledo AT manual p.87; InstrumentKit",
        ),
        ScaleProtocol(
            name="nci",
            title="NCI / Avery Weigh-Tronix ECR (SCP-01)",
            baudrate=9600,
            bytesize=7,
            parity="E",
            stopbits=1,
            weigh_command=b"W\r",
            zero_command=b"Z\r",
            tare_command=None,
            frame_start=b"\n",
            frame_end=b"\x03",
            max_frame=48,
            parse=parse_nci,
            parse_ack=ack_nci,
            source="Weigh-Tronix SCP-01; DIVA service manual §6.1.1; Avery 7821 manual p.25",
        ),
        ScaleProtocol(
            name="cas",
            title="CAS continuous (ST,GS,...kg)",
            baudrate=9600,
            bytesize=8,
            parity="N",
            stopbits=1,
            weigh_command=None,
            zero_command=None,
            tare_command=None,
            frame_start=None,
            frame_end=b"\n",
            max_frame=40,
            parse=parse_cas,
            parse_ack=None,
            source="CAS CI-600D manual p.74 (22-byte format); Selleton SL-7516 p.18",
        ),
    )
}


class ScaleReader:
    """Frame splitter + parser for one protocol: bytes in, `ScaleAnswer`s out (pure)."""

    def __init__(self, protocol: ScaleProtocol, unit: str | None = None) -> None:
        self.protocol = protocol
        self.unit = unit
        self.splitter = FrameSplitter(protocol.frame_start, protocol.frame_end, protocol.max_frame)

    def feed(self, data: bytes) -> list[tuple[bytes, ScaleAnswer]]:
        return [
            (frame, self.protocol.parse(frame, self.unit)) for frame in self.splitter.feed(data)
        ]
