"""The one module that relies on library internals (FireWorks, mongomock, jobflow).

Everything below depends on something the libraries do not promise: a private attribute,
a module global, a log message, a stored document layout. Nothing else in ssbflow
touches those; ``tests/test_library_contracts.py`` checks every item against the
installed libraries and fails naming what changed.

- jobflow: the log messages of ``run_locally`` (a job starts; a job failed, with its
  traceback) and the FireWorks spec of a converted job (``spec._tasks[0].job.uuid``).
  The public alternative, ``run_locally(raise_immediately=True)``, would stop the other
  branches of a flow at the first failure; ssbflow keeps running them (a side job may
  fail and the summary still be produced), so failures are read from the log.
- FireWorks: ``LaunchPad.__init__`` builds its client from the module global
  ``fireworks.core.launchpad.MongoClient``; the id counters document in
  ``fw_id_assigner``; where a failed launch keeps its traceback; which LaunchPad methods
  only read.
- mongomock / mongomock-persistence: a ``ServerStore`` built without its ``__init__``
  (which would read ``MONGOMOCK_SERVERSTORE_FILE`` and write the file back at exit),
  replaced in place through ``DatabaseStore._collections``; ``to_dict``/``from_dict``
  (added by mongomock-persistence); the query matcher ``mongomock.filtering``.
"""

from __future__ import annotations

from typing import Any

#: ``filter_applies(criteria, document) -> bool``: mongomock's MongoDB query matcher
#: (module ``mongomock.filtering``, not part of mongomock's documented API).
from mongomock.filtering import filter_applies as filter_applies

# --------------------------------------------------------------------------------------
# jobflow
# --------------------------------------------------------------------------------------

#: Logger that ``run_locally`` and ``Job.run`` log under (through child loggers).
JOBFLOW_LOGGER = "jobflow"
#: ``Job.run`` logs ``"Starting job - <name> (<uuid>[, <index>])"``.
JOB_STARTED_PREFIX = "Starting job - "
#: ``run_locally`` logs ``"<name> failed with exception:\n<traceback>"``.
JOB_FAILED_MARKER = " failed with exception:"


def job_started(message: str) -> str | None:
    """The name of the job that starts, if ``message`` is jobflow's start message."""
    if not message.startswith(JOB_STARTED_PREFIX):
        return None
    return message.removeprefix(JOB_STARTED_PREFIX).split(" (")[0]


def job_exception() -> BaseException | None:
    """The exception a failing job raised, read while jobflow logs the failure.

    ``run_locally`` logs the failure message from inside its ``except`` block, so a log
    handler sees the job's exception in ``sys.exc_info()``; ``None`` elsewhere.
    """
    import sys

    return sys.exc_info()[1]


def job_failure(message: str) -> tuple[str, str] | None:
    """``(job name, traceback text)`` if ``message`` is jobflow's failure message."""
    if JOB_FAILED_MARKER not in message:
        return None
    name, _, trace = message.partition(JOB_FAILED_MARKER)
    return name, trace


#: Projection of a firework document that `job_uuid_of_firework` needs.
JOB_SPEC_FIELD = "spec._tasks"


def job_uuid_of_firework(fw_doc: dict[str, Any]) -> str | None:
    """The jobflow uuid of a FireWorks firework document made by ``flow_to_workflow``."""
    tasks = (fw_doc.get("spec") or {}).get("_tasks") or [{}]
    return ((tasks[0] or {}).get("job") or {}).get("uuid")


# --------------------------------------------------------------------------------------
# FireWorks
# --------------------------------------------------------------------------------------

#: LaunchPad methods that never change the database (no checkpoint after them).
LAUNCHPAD_READ_ONLY_METHODS = frozenset(
    {
        "get_logdir",
        "run_exists",
        "future_run_exists",
        "get_fw_ids",
        "get_wf_ids",
        "get_fw_by_id",
        "get_fw_dict_by_id",
        "get_wf_by_fw_id",
        "get_wf_by_fw_id_lzyfw",
        "get_launch_by_id",
        "get_wf_summary_dict",
        "get_fw_ids_in_wfs",
        "get_tracker_data",
        "get_reservation_id_from_fw_id",
        "get_recovery",
        "to_dict",
        "to_db_dict",
        "to_format",
        "as_dict",
    }
)

#: Every other public LaunchPad method of FireWorks 2.1.4: each call is checkpointed
#: (written back) afterwards. Two of them only read (``get_launchdir``,
#: ``get_fw_ids_from_reservation_id``) and are checkpointed anyway, as they always were.
#: Only the contract test reads this list: a method FireWorks adds is reported there so
#: that someone decides which list it belongs to (unlisted methods are checkpointed).
LAUNCHPAD_CHECKPOINTED_METHODS = frozenset(
    {
        "add_offline_run",
        "add_wf",
        "append_wf",
        "archive_wf",
        "auto_load",
        "bulk_add_wfs",
        "cancel_reservation",
        "cancel_reservation_by_reservation_id",
        "change_launch_dir",
        "checkout_fw",
        "complete_launch",
        "defuse_fw",
        "defuse_wf",
        "delete_fws",
        "delete_wf",
        "detect_lostruns",
        "detect_unreserved",
        "forget_offline",
        "from_dict",
        "from_file",
        "from_format",
        "get_fw_ids_from_reservation_id",
        "get_launchdir",
        "get_new_fw_id",
        "get_new_launch_id",
        "log_message",
        "maintain",
        "mark_fizzled",
        "pause_fw",
        "pause_wf",
        "ping_launch",
        "recover_offline",
        "reignite_fw",
        "reignite_wf",
        "rerun_fw",
        "reserve_fw",
        "reset",
        "restore_backup_data",
        "resume_fw",
        "set_priority",
        "set_reservation_id",
        "to_file",
        "tuneup",
        "update_spec",
    }
)


def launchpad_on_mongomock(client_factory: Any, **launchpad_kwargs: Any) -> Any:
    """A FireWorks ``LaunchPad`` whose MongoDB client is ``client_factory()``.

    ``LaunchPad.__init__`` builds its client from ``fireworks.core.launchpad.MongoClient``
    (FireWorks' own mongomock mode swaps it through ``fw_config``); it is swapped only
    while the LaunchPad is constructed.
    """
    from fireworks.core import launchpad as fw_launchpad

    def factory(*_args: Any, **_kwargs: Any) -> Any:
        return client_factory()

    original = fw_launchpad.MongoClient
    fw_launchpad.MongoClient = factory
    try:
        return fw_launchpad.LaunchPad(**launchpad_kwargs)
    finally:
        fw_launchpad.MongoClient = original


def has_id_counters(lp: Any) -> bool:
    """Whether the LaunchPad database has FireWorks' id counters document."""
    return lp.fw_id_assigner.count_documents({}) > 0


def initialize_id_counters(lp: Any) -> None:
    """Create FireWorks' firework and launch id counters (the document ``reset`` writes).

    Does nothing when the counters exist.
    """
    if not has_id_counters(lp):
        lp.fw_id_assigner.update_one(
            {"_id": "ssbflow_fw_id_assigner"},
            {"$setOnInsert": {"next_fw_id": 1, "next_launch_id": 1}},
            upsert=True,
        )


def launch_traceback(launch: dict[str, Any]) -> str | None:
    """The traceback (or message) a failed FireWorks launch document keeps, if any."""
    stored = ((launch.get("action") or {}).get("stored_data")) or {}
    return ((stored.get("_exception") or {}).get("_stacktrace")) or stored.get("_message")


# --------------------------------------------------------------------------------------
# mongomock / mongomock-persistence
# --------------------------------------------------------------------------------------

#: Attributes of a mongomock-persistence ``ServerStore`` without a file.
SERVER_STORE_ATTRIBUTES = ("_filename", "_databases")


def bare_mongomock_server() -> Any:
    """An empty mongomock ``ServerStore`` that neither reads nor writes any file.

    mongomock-persistence's ``ServerStore.__init__`` reads ``MONGOMOCK_SERVERSTORE_FILE``
    and registers an unlocked write-at-exit; this one is built without it.
    """
    import mongomock_persistence  # noqa: F401  (adds to_dict/from_dict to mongomock stores)
    from mongomock.store import ServerStore

    server = ServerStore.__new__(ServerStore)
    server._filename = None
    server._databases = {}
    return server


def mongomock_client(server: Any) -> Any:
    """A mongomock client on ``server``, with GridFS support enabled."""
    import mongomock
    import mongomock.gridfs

    mongomock.gridfs.enable_gridfs_integration()
    return mongomock.MongoClient(_store=server)


def server_to_dict(server: Any) -> dict[str, Any]:
    """``{database: {collection: data}}`` of a mongomock server (mongomock-persistence)."""
    return server.to_dict()


def load_server_dict(server: Any, data: dict[str, Any]) -> None:
    """Replace the contents of ``server`` by ``data`` (from `server_to_dict`), in place.

    The existing database objects are updated, not replaced: the clients' mongomock
    collections look their documents up through them.
    """
    from mongomock.store import CollectionStore

    for name, db_store in server._databases.items():
        if name not in data:
            db_store._collections = {}
    for name, collections in data.items():
        db_store = server[name]
        db_store._collections = {
            cname: CollectionStore.from_dict(cdata) for cname, cdata in collections.items()
        }
