"""JSON Schema files of the sync payloads, generated from `gateway.sync.payloads`.

The models are the one source; `gateway/schemas/sync.<name>.json` are shipped copies for
head office, technicians and other languages. Regenerate after changing a model:
    python -m gateway.sync.schemas --write
tests/sync/test_schemas.py fails when a shipped file differs from its model.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from gateway.sync.payloads import PAYLOADS

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
ID_BASE = "https://storegate.example/schemas/"


def schema_of(name: str) -> dict[str, Any]:
    schema = PAYLOADS[name].model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{ID_BASE}sync.{name}.json",
        **schema,
    }


def rendered(name: str) -> str:
    return json.dumps(schema_of(name), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_path(name: str) -> Path:
    return SCHEMA_DIR / f"sync.{name}.json"


def main(argv: list[str]) -> int:
    stale = [
        name
        for name in PAYLOADS
        if not schema_path(name).exists() or schema_path(name).read_text() != rendered(name)
    ]
    if "--write" in argv:
        SCHEMA_DIR.mkdir(exist_ok=True)
        for name in PAYLOADS:
            schema_path(name).write_text(rendered(name))
        print(f"wrote {len(PAYLOADS)} schemas to {SCHEMA_DIR}")
        return 0
    for name in stale:
        print(f"stale: {schema_path(name)} (run python -m gateway.sync.schemas --write)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
