"""A maggma Store on one SQLite file, with indexed lookups by uuid/index and blob_uuid.

Why not maggma's ``MontyStore``: montydb has no indexes, so every query and every
upsert decodes every stored document; the cost of saving one job output grows with the
size of the whole results database. Here documents are JSON text in one table, with the
store's key, ``uuid``, ``index`` and ``blob_uuid`` in indexed columns:

- equality (or ``$in``) on ``uuid`` / ``blob_uuid`` is answered through the index;
- any other MongoDB-style filter is evaluated with mongomock's matcher on the rows that
  the indexed part selects (all rows if none), so the query language is the same as
  MongoDB's for the filters ssbflow uses.

SQLite serialises writers across processes (WAL journal, busy timeout), so a local run,
FireWorks workers and ``ssbflow results`` on one machine share the file safely.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from itertools import groupby as _groupby
from pathlib import Path
from typing import Any

from maggma.core import Sort, Store
from monty.json import jsanitize
from pydash import get, set_

from ssbflow.execution._compat import filter_applies

_INDEXED = ("uuid", "blob_uuid")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


class SQLiteStore(Store):
    """maggma Store backed by an SQLite file.

    Parameters
    ----------
    database_path
        The SQLite file (created with its folder when missing).
    collection_name
        Table name.
    key
        Field (or fields) that identify a document for upserts.
    timeout_s
        How long a writer waits for another process's transaction, s.
    """

    def __init__(
        self,
        database_path: str,
        collection_name: str,
        key: str | list[str] = "task_id",
        timeout_s: float = 120.0,
        **kwargs: Any,
    ) -> None:
        self.database_path = str(database_path)
        self.collection_name = collection_name
        self.timeout_s = timeout_s
        self._conn: sqlite3.Connection | None = None
        self.kwargs = kwargs
        super().__init__(key=key if isinstance(key, str) else key[0], **kwargs)
        self.keys = [key] if isinstance(key, str) else list(key)

    @property
    def name(self) -> str:
        return f"sqlite://{self.database_path}/{self.collection_name}"

    @property
    def _collection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"{self.name} is not connected; call connect() first")
        return self._conn

    def connect(self, force_reset: bool = False) -> None:
        """Open the file (``":memory:"``: a private in-memory database) and create the table
        and indexes if needed."""
        if self._conn is not None and not force_reset:
            return
        if self.database_path != ":memory:":
            Path(self.database_path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.database_path, timeout=self.timeout_s, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        table = self.collection_name
        conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{table}" (id INTEGER PRIMARY KEY, '
            "doc_key TEXT UNIQUE NOT NULL, uuid TEXT, blob_uuid TEXT, body TEXT NOT NULL)"
        )
        for column in _INDEXED:
            conn.execute(f'CREATE INDEX IF NOT EXISTS "{table}_{column}" ON "{table}" ({column})')
        self._conn = conn

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- writing -------------------------------------------------------------------

    def update(self, docs: list[dict] | dict, key: list | str | None = None) -> None:
        """Insert or replace documents, identified by ``key`` (default: the store's)."""
        self.write_rows(self.rows_for(docs, key))

    def rows_for(
        self, docs: list[dict] | dict, key: list | str | None = None
    ) -> list[tuple[str, str | None, str | None, str]]:
        """The table rows ``(doc_key, uuid, blob_uuid, JSON body)`` for ``docs``."""
        keys = [key] if isinstance(key, str) else list(key or self.keys)
        docs = docs if isinstance(docs, list) else [docs]
        rows = []
        for doc in docs:
            clean = jsanitize(doc, allow_bson=True, enum_values=True)
            clean.pop("_id", None)
            doc_key = json.dumps([get(clean, k) for k in keys], default=_default)
            rows.append(
                (
                    doc_key,
                    clean.get("uuid") if isinstance(clean.get("uuid"), str) else None,
                    clean.get("blob_uuid") if isinstance(clean.get("blob_uuid"), str) else None,
                    json.dumps(clean, default=_default),
                )
            )
        return rows

    def write_rows(self, rows: list[tuple[str, str | None, str | None, str]]) -> None:
        """Upsert rows made by `rows_for` in one transaction."""
        conn = self._collection
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                f'INSERT INTO "{self.collection_name}" (doc_key, uuid, blob_uuid, body) '
                "VALUES (?, ?, ?, ?) ON CONFLICT(doc_key) DO UPDATE SET "
                "uuid=excluded.uuid, blob_uuid=excluded.blob_uuid, body=excluded.body",
                rows,
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def remove_docs(self, criteria: dict) -> None:
        """Delete the documents matching ``criteria``."""
        ids = [row_id for row_id, _ in self._matching(criteria)]
        conn = self._collection
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(f'DELETE FROM "{self.collection_name}" WHERE id = ?', [(i,) for i in ids])
        conn.execute("COMMIT")

    def ensure_index(self, key: str, unique: bool = False) -> bool:
        """uuid and blob_uuid are indexed; other fields are matched in Python."""
        return key in _INDEXED or key in self.keys

    # -- reading -------------------------------------------------------------------

    def _candidate_rows(self, criteria: dict) -> Iterator[tuple[int, str]]:
        table = self.collection_name
        for column in _INDEXED:
            value = criteria.get(column)
            if isinstance(value, str):
                yield from self._collection.execute(
                    f'SELECT id, body FROM "{table}" WHERE {column} = ? ORDER BY id', (value,)
                )
                return
            if isinstance(value, dict) and set(value) == {"$in"}:
                values = [v for v in value["$in"] if isinstance(v, str)]
                if len(values) == len(value["$in"]):
                    marks = ",".join("?" * len(values)) or "NULL"
                    yield from self._collection.execute(
                        f'SELECT id, body FROM "{table}" WHERE {column} IN ({marks}) ORDER BY id',
                        values,
                    )
                    return
        yield from self._collection.execute(f'SELECT id, body FROM "{table}" ORDER BY id')

    def _matching(self, criteria: dict | None) -> Iterator[tuple[int, dict]]:
        criteria = criteria or {}
        for row_id, body in self._candidate_rows(criteria):
            doc = json.loads(body)
            if not criteria or filter_applies(criteria, doc):
                yield row_id, doc

    @staticmethod
    def _project(doc: dict, properties: dict | list | None) -> dict:
        if not properties:
            return doc
        if isinstance(properties, dict):
            included = [k for k, v in properties.items() if v]
            excluded = [k for k, v in properties.items() if not v]
            if excluded and not included:
                out = json.loads(json.dumps(doc))
                for path in excluded:
                    parent, _, leaf = path.rpartition(".")
                    target = get(out, parent) if parent else out
                    if isinstance(target, dict):
                        target.pop(leaf, None)
                return out
            properties = included
        out: dict = {}
        for path in properties:
            value = get(doc, path, default=_MISSING)
            if value is not _MISSING:
                set_(out, path, value)
        return out

    def query(
        self,
        criteria: dict | None = None,
        properties: dict | list | None = None,
        sort: dict[str, Sort | int] | None = None,
        skip: int = 0,
        limit: int = 0,
    ) -> Iterator[dict]:
        """MongoDB-style query: filter, projection, sort, skip and limit."""
        docs = [doc for _, doc in self._matching(criteria)]
        for field, direction in reversed(list((sort or {}).items())):
            value = direction.value if isinstance(direction, Sort) else direction
            present = [d for d in docs if get(d, field) is not None]
            absent = [d for d in docs if get(d, field) is None]
            present.sort(key=lambda d, f=field: get(d, f), reverse=value < 0)
            # MongoDB order: missing values sort lowest
            docs = absent + present if value > 0 else present + absent
        docs = docs[skip or 0 :]
        if limit:
            docs = docs[:limit]
        for doc in docs:
            yield self._project(doc, properties)

    def count(self, criteria: dict | None = None, hint: Any = None) -> int:
        """Number of documents matching ``criteria``."""
        if not criteria:
            return self._collection.execute(
                f'SELECT COUNT(*) FROM "{self.collection_name}"'
            ).fetchone()[0]
        return sum(1 for _ in self._matching(criteria))

    def distinct(self, field: str, criteria: dict | None = None, all_exist: bool = False) -> list:
        """Distinct values of ``field`` among matching documents."""
        values: list = []
        for _, doc in self._matching(criteria):
            value = get(doc, field, default=_MISSING)
            if value is _MISSING:
                continue
            for v in value if isinstance(value, list) else [value]:
                if v not in values:
                    values.append(v)
        return values

    def groupby(
        self,
        keys: list[str] | str,
        criteria: dict | None = None,
        properties: dict | list | None = None,
        sort: dict[str, Sort | int] | None = None,
        skip: int = 0,
        limit: int = 0,
    ) -> Iterator[tuple[dict, list[dict]]]:
        """Group matching documents by the values of ``keys``."""
        keys = [keys] if isinstance(keys, str) else list(keys)
        docs = list(self.query(criteria, None, sort, skip, limit))

        def group_key(doc: dict) -> str:
            return json.dumps([get(doc, k) for k in keys], default=_default, sort_keys=True)

        docs.sort(key=group_key)
        for _, group in _groupby(docs, key=group_key):
            members = list(group)
            ident: dict = {}
            for k in keys:
                set_(ident, k, get(members[0], k))
            yield ident, [self._project(d, properties) for d in members]

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, SQLiteStore)
            and self.database_path == other.database_path
            and self.collection_name == other.collection_name
        )

    def __hash__(self) -> int:
        return hash((self.database_path, self.collection_name))


class _Missing:
    pass


_MISSING = _Missing()
