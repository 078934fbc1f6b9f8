"""Head office's database handle: one small facade over SQLite and PostgreSQL.

Owns: parsing `--db` URLs (`sqlite:///PATH`, `postgresql://...`), opening connections with
the settings each engine needs, and the one placeholder spelling the rest of `cloud/`
writes (`?`, turned into `%s` for psycopg). Everything above this module is engine-neutral
SQL; where the engines truly differ (DDL, staging with COPY) callers ask `db.dialect`.

Must not know any table: the schema lives in `cloud.schema`, the queries in their rooms.

psycopg is imported only when a PostgreSQL URL is used: it belongs to the `cloud` extra
(`pip install 'storegate[cloud]'`), which a box does not install; SQLite needs nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from gateway.errors import StoregateError

Dialect = Literal["sqlite", "postgresql"]
DEFAULT_URL = "sqlite:///cloud.db"


class CloudDatabaseError(StoregateError):
    """The head-office database cannot be opened or is not at the expected schema."""

    exit_code = 3


def _psycopg() -> ModuleType:
    """psycopg, on first use of a PostgreSQL URL; a clear error when the extra is missing."""
    try:
        import psycopg
    except ImportError as exc:
        raise CloudDatabaseError(
            f"PostgreSQL needs psycopg, which is not installed here ({exc})",
            where="--db",
            fix="install head office's libraries: pip install 'storegate[cloud]' "
            "(or use a sqlite:///PATH database)",
        ) from exc
    return psycopg


@dataclass(frozen=True)
class DatabaseUrl:
    dialect: Dialect
    target: str  # a file path for SQLite, the libpq conninfo URL for PostgreSQL

    @classmethod
    def parse(cls, url: str) -> DatabaseUrl:
        if url.startswith("sqlite:///"):
            return cls("sqlite", url[len("sqlite:///") :] or "cloud.db")
        if url.startswith(("postgresql://", "postgres://")):
            return cls("postgresql", url)
        raise CloudDatabaseError(
            f"unsupported database URL {url!r}",
            where="--db",
            fix="use sqlite:///PATH or postgresql://USER@HOST:PORT/NAME",
        )

    def redacted(self) -> str:
        """The URL without a password, for messages and logs."""
        if self.dialect == "sqlite":
            return f"sqlite:///{self.target}"
        conninfo = _psycopg().conninfo
        info = conninfo.conninfo_to_dict(self.target)
        info.pop("password", None)
        return str(conninfo.make_conninfo(**info))


class Database:
    """One open connection; `transaction()` is the only way to write."""

    def __init__(self, url: DatabaseUrl, conn: Any) -> None:
        self.url = url
        self.dialect: Dialect = url.dialect
        self.conn = conn
        # What the engine raises, and what of it is transient (a dropped connection, a
        # restarted server, a locked file): the caller rolls back, keeps the MQTT messages
        # un-acknowledged and tries again.
        driver: tuple[type[Exception], ...] = (sqlite3.Error,)
        transient: tuple[type[Exception], ...] = (sqlite3.OperationalError,)
        if self.dialect == "postgresql":
            psycopg = _psycopg()
            driver, transient = (psycopg.Error,), (psycopg.OperationalError,)
        self.driver_errors = driver
        self.transient_errors = transient

    # ------------------------------------------------------------ opening

    @classmethod
    def open(cls, url: str | DatabaseUrl) -> Database:
        parsed = DatabaseUrl.parse(url) if isinstance(url, str) else url
        if parsed.dialect == "sqlite":
            errors: tuple[type[Exception], ...] = (sqlite3.Error,)
        else:
            psycopg = _psycopg()
            errors = (psycopg.Error,)
        try:
            if parsed.dialect == "sqlite":
                return cls(parsed, _open_sqlite(Path(parsed.target)))
            return cls(parsed, psycopg.connect(parsed.target, autocommit=False, connect_timeout=10))
        except errors as exc:
            raise CloudDatabaseError(
                f"cannot open the database: {str(exc).strip()}",
                where=parsed.redacted(),
                fix="check the --db URL, that the server runs and the database exists",
            ) from exc

    def close(self) -> None:
        with suppress(*self.driver_errors):
            self.conn.close()

    def reconnect(self) -> None:
        """Throw the connection away and open a new one (after a transient failure)."""
        self.close()
        self.conn = Database.open(self.url).conn

    # ------------------------------------------------------------ statements

    def sql(self, statement: str) -> str:
        """`?` placeholders in the engine's own spelling."""
        return statement if self.dialect == "sqlite" else statement.replace("?", "%s")

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        cur = self.conn.cursor()
        cur.execute(self.sql(statement), tuple(params))
        return cur

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            cur = self.conn.cursor()
            cur.executemany(self.sql(statement), [tuple(r) for r in rows])

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self.execute(statement, params).fetchall()
        if self.dialect == "postgresql":
            self.conn.commit()  # end the read transaction: never hold a snapshot open
        return rows

    def one(self, statement: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self.query(statement, params)
        return rows[0] if rows else None

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """BEGIN (IMMEDIATE on SQLite, so writers queue instead of failing) ... COMMIT."""
        if self.dialect == "sqlite":
            self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            with suppress(*self.driver_errors):
                self.conn.rollback()
            raise
        self.conn.commit()

    def lock_rows_for_update(self) -> str:
        """`FOR UPDATE` where the engine has row locks; SQLite's writer lock does it all."""
        return " FOR UPDATE" if self.dialect == "postgresql" else ""


def _open_sqlite(path: Path) -> sqlite3.Connection:
    if path.parent and not path.parent.exists():
        raise CloudDatabaseError(
            f"folder {path.parent} does not exist",
            where=str(path),
            fix="create the folder or give another --db path",
        )
    conn = sqlite3.connect(path, isolation_level=None, timeout=30.0, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    # isolation_level=None: we issue BEGIN ourselves; commit()/rollback() still work.
    return _SqliteConnection(conn)  # type: ignore[return-value]


class _SqliteConnection:
    """sqlite3 in autocommit mode with explicit BEGIN: commit/rollback only when in one."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def cursor(self) -> sqlite3.Cursor:
        return self._conn.cursor()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    def commit(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("COMMIT")

    def rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def close(self) -> None:
        self._conn.close()

    @property
    def raw(self) -> sqlite3.Connection:
        return self._conn
