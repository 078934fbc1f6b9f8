"""A stand-in box process for the SIGKILL test: journals sales and runs sync, like the daemon.

The main thread is the journal's single writer: it appends sales and applies the
acknowledgements the sync thread hands over through a queue (as the daemon will). Run:
    python box_process.py DIR PORT APPEND [--exit-when-acked]
"""

from __future__ import annotations

import queue
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from sync_support import make_config, sale_body

from gateway.database import open_database
from gateway.journal.store import Journal
from gateway.sync.service import SyncService


def main() -> int:
    workdir, port, to_append = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    exit_when_acked = "--exit-when-acked" in sys.argv
    journal = Journal(open_database(workdir / "box.db"))
    acks: queue.Queue[tuple[int, str]] = queue.Queue()
    config = make_config(
        workdir,
        port,
        batch_max_records=50,
        window_batches=4,
        resend_after=1.0,
        ack_report_interval=0.05,
    )
    service = SyncService(config, acknowledge=lambda seq, digest: acks.put((seq, digest)))
    service.start()
    appended = 0
    while True:
        if appended < to_append:
            head = journal.state().head_seq
            journal.append_many([("sale", sale_body(head + i + 1)) for i in range(10)])
            appended += 10
            if appended == 10:  # the killer's clock starts here, not at the interpreter's start
                print("started", flush=True)
        while not acks.empty():
            seq, digest = acks.get()
            journal.acknowledge(seq, expected_hash=digest)
        if exit_when_acked and appended >= to_append:
            state = journal.state()
            if state.acknowledged_seq == state.head_seq:
                service.stop()
                return 0
        time.sleep(0.01)


if __name__ == "__main__":
    sys.exit(main())
