"""PIN hashing cost (issue 13 item 8): what a PIN check costs the till, and what trying
every PIN of each length costs someone who copied the database off the box.

Run: .venv/bin/python bench/bench_pins.py [--rounds 15] [--attacker-cores 16] [--pi-factor 3]

1. One PIN check at the till: `hash_pin` at `PIN_COST` (the lanes on their own threads, as
   the main loop pays it) and at `LEGACY_COST` (the hash before issue 13), best and median
   of --rounds.
2. One guess for the attacker: the CPU time of every lane, one after another (an attacker
   keeps every core busy with guesses, so lanes buy them nothing), times 10^digits / cores
   for the full space of each PIN length. The attacker is a GPU-less PC of --attacker-cores
   cores each as fast as this machine's; scrypt at 16 MiB a lane leaves GPUs little edge.
3. The till on a Pi: the measured wall time times --pi-factor (stated, not measured here:
   a Pi 4's Cortex-A72 runs scrypt about 3x slower than one core of this machine; run this
   script on the box to replace the estimate with a figure).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

from gateway.lane.staff import LEGACY_COST, PIN_COST, PinCost, hash_pin

LENGTHS = (4, 5, 6, 7, 8, 10)


def timed(cost: PinCost, rounds: int) -> tuple[float, float, float]:
    """(best wall s, median wall s, best CPU s) of one hash."""
    walls, cpus = [], []
    salt = os.urandom(16)
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        hash_pin("12345678", salt, cost)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), statistics.median(walls), min(cpus)


def span(seconds: float) -> str:
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--attacker-cores", type=int, default=16)
    parser.add_argument("--pi-factor", type=float, default=3.0)
    args = parser.parse_args()
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"load average {os.getloadavg()[0]:.2f}")
    for name, cost in (("legacy", LEGACY_COST), ("current", PIN_COST)):
        best, median, cpu = timed(cost, args.rounds)
        guess = cpu / args.attacker_cores
        print(
            f"{name}: scrypt N=2^{cost.log2_n} r={cost.r} x{cost.lanes} lanes: till "
            f"best {best * 1000:.1f} ms, median {median * 1000:.1f} ms "
            f"(Pi estimate {best * args.pi_factor * 1000:.0f} ms); one guess {cpu * 1000:.1f} "
            f"ms CPU"
        )
        print(
            "  every PIN on "
            f"{args.attacker_cores} cores: "
            + ", ".join(f"{n} digits {span(10**n * guess)}" for n in LENGTHS)
        )
    print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
