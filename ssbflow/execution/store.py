"""The results database: one jobflow JobStore, embedded or MongoDB.

The embedded default keeps two collections (documents, and the ``data`` store for
trajectories and large arrays) in one SQLite file, ``settings.data_dir / "results" /
"ssbflow.sqlite"`` (`ssbflow.execution.sqlite_store.SQLiteStore`, indexed by uuid and blob_uuid).
SQLite gives cross-process locking, so a local run, FireWorks workers and ``ssbflow
results`` on the same machine see one database.

With ``settings.mongodb_uri`` set, the same two collections live in MongoDB instead; no
other code changes.
"""

from __future__ import annotations

from typing import Any

from jobflow import JobStore
from maggma.core import Store
from maggma.stores import MongoURIStore

from ssbflow.execution.sqlite_store import SQLiteStore
from ssbflow.settings import SsbflowSettings

DOCS_COLLECTION = "outputs"
DATA_COLLECTION = "outputs_data"


def get_jobstore(settings: SsbflowSettings) -> JobStore:
    """Build the JobStore that every ssbflow command reads and writes.

    Parameters
    ----------
    settings
        ssbflow settings; ``data_dir`` or ``mongodb_uri`` decide where results go.

    Returns
    -------
    JobStore
        Not yet connected; jobflow connects it when a flow runs, callers that query it
        must call ``store.connect()``.
    """
    if settings.uses_mongodb:
        uri = settings.mongodb_uri.get_secret_value()  # type: ignore[union-attr]
        docs = MongoURIStore(uri, collection_name=DOCS_COLLECTION, database=settings.database)
        data = MongoURIStore(uri, collection_name=DATA_COLLECTION, database=settings.database)
    else:
        path = settings.data_dir / "results" / "ssbflow.sqlite"
        docs = SQLiteStore(str(path), DOCS_COLLECTION, key=["uuid", "index"])
        data = SQLiteStore(str(path), DATA_COLLECTION, key="blob_uuid")
    return JobStore(docs, additional_stores={"data": data})


def load_output(settings: SsbflowSettings, uuid: str) -> dict[str, Any] | None:
    """The last stored output of job ``uuid`` as a plain dict; ``None`` when none is stored.

    Parameters
    ----------
    settings
        ssbflow settings; decide the results store.
    uuid
        The job's uuid. A job replaced at run time (``Response(replace=...)``) keeps its
        uuid, and the last output under it is its replacement's.
    """
    store = get_jobstore(settings)
    store.connect()
    try:
        doc = store.get_output(uuid, which="last", load=True)
    except ValueError:  # jobflow: "No output stored for uuid"
        return None
    finally:
        store.close()
    if hasattr(doc, "model_dump"):
        doc = doc.model_dump()
    return doc


def describe_store(settings: SsbflowSettings) -> str:
    """A one-line, credential-free description of where results go."""
    if settings.uses_mongodb:
        return f"MongoDB database '{settings.database}' (URI from settings, not shown)"
    return f"embedded store in {settings.data_dir / 'results'}"


class WriteThroughStore(Store):
    """An in-memory copy in front of a persistent store, for one local run.

    Every write goes to both, so the persistent store is always complete (a crash loses
    nothing that finished). Reads are answered from memory when it has a match and from
    the persistent store otherwise (documents written by earlier runs or other
    processes). jobflow resolves every input of every job by querying the store; keeping
    this run's documents in memory avoids re-reading and re-decoding them each time.
    """

    def __init__(self, backing: Store) -> None:
        self.backing = backing
        # A private in-memory SQLite table: JSON text with an index on uuid, so a read is
        # one indexed lookup and a json.loads (mongomock deep-copied and re-filtered
        # every document). In front of an SQLiteStore a write is sanitised and encoded
        # once for both.
        self.memory = SQLiteStore(
            ":memory:", collection_name="cache", key=getattr(backing, "keys", backing.key)
        )
        self.key = backing.key
        self.last_updated_field = backing.last_updated_field
        self.last_updated_type = backing.last_updated_type
        self.validator = None

    @property
    def name(self) -> str:
        return f"cached {self.backing.name}"

    @property
    def _collection(self):
        return self.backing._collection

    def connect(self, force_reset: bool = False) -> None:
        self.backing.connect(force_reset=force_reset)
        self.memory.connect(force_reset=force_reset)

    def close(self) -> None:
        self.backing.close()
        self.memory.close()

    def count(self, criteria: dict | None = None) -> int:
        return self.backing.count(criteria)

    def query(self, criteria=None, properties=None, sort=None, skip=0, limit=0):
        kwargs = {"criteria": criteria, "sort": sort, "skip": skip, "limit": limit}
        props = list(properties) if isinstance(properties, list | tuple) else properties
        found = list(self.memory.query(properties=props, **kwargs))
        if found:
            yield from found
            return
        yield from self.backing.query(properties=properties, **kwargs)

    def update(self, docs, key=None) -> None:
        if isinstance(self.backing, SQLiteStore):
            rows = self.backing.rows_for(docs, key)
            self.backing.write_rows(rows)
            self.memory.write_rows(rows)
            return
        self.backing.update(docs, key=key)
        self.memory.update(docs, key=key)

    def ensure_index(self, key: str, unique: bool = False) -> bool:
        return self.backing.ensure_index(key, unique)

    def groupby(self, keys, criteria=None, properties=None, sort=None, skip=0, limit=0):
        return self.backing.groupby(
            keys, criteria=criteria, properties=properties, sort=sort, skip=skip, limit=limit
        )

    def remove_docs(self, criteria: dict) -> None:
        self.backing.remove_docs(criteria)
        self.memory.remove_docs(criteria)

    def distinct(self, field, criteria=None, all_exist=False):
        return self.backing.distinct(field, criteria=criteria, all_exist=all_exist)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WriteThroughStore) and self.backing == other.backing

    def __hash__(self) -> int:
        return hash(("write-through", self.backing.name))


def cached_jobstore(store: JobStore) -> JobStore:
    """The same JobStore with a `WriteThroughStore` in front of each of its stores."""
    return JobStore(
        WriteThroughStore(store.docs_store),
        additional_stores={k: WriteThroughStore(v) for k, v in store.additional_stores.items()},
        save=store.save,
        load=store.load,
    )
