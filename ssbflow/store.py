"""The results database: one jobflow JobStore, embedded or MongoDB.

The embedded default keeps two maggma ``MontyStore`` collections (documents and the
``data`` store for trajectories and large arrays) in SQLite files under
``settings.data_dir / "results"``. SQLite gives cross-process locking, so a local run,
a FireWorks worker and ``ssbflow results`` on the same machine see one database.

With ``settings.mongodb_uri`` set, the same two collections live in MongoDB instead; no
other code changes.
"""

from __future__ import annotations

from jobflow import JobStore
from maggma.stores import MongoURIStore, MontyStore

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
        path = settings.data_dir / "results"
        path.mkdir(parents=True, exist_ok=True)
        docs = MontyStore(DOCS_COLLECTION, database_path=str(path), storage="sqlite")
        data = MontyStore(DATA_COLLECTION, database_path=str(path), storage="sqlite")
    return JobStore(docs, additional_stores={"data": data})


def describe_store(settings: SsbflowSettings) -> str:
    """A one-line, credential-free description of where results go."""
    if settings.uses_mongodb:
        return f"MongoDB database '{settings.database}' (URI from settings, not shown)"
    return f"embedded store in {settings.data_dir / 'results'}"
