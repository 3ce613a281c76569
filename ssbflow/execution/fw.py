"""Run ssbflow studies at scale with FireWorks: LaunchPad, submission, workers, status.

Where things live
-----------------
- **LaunchPad** (the queue of jobs): ``settings.launchpad_file`` (``SSBFLOW_LAUNCHPAD_FILE``,
  or ``--launchpad FILE``) if given; else the MongoDB of ``settings.mongodb_uri`` if set
  (database ``settings.database``); else the *embedded* LaunchPad in
  ``settings.data_dir / "launchpad"``.
- **Results** always go to ``ssbflow.execution.store.get_jobstore(settings)``, the store that
  ``ssbflow results`` reads. Submitted workflows carry no store (and so no credentials):
  the worker sets jobflow's ``SETTINGS.JOB_STORE`` from its own ssbflow settings.

The embedded LaunchPad
----------------------
FireWorks' mongomock mode (``MONGOMOCK_SERVERSTORE_FILE``, package
``mongomock-persistence``) keeps the whole database in one JSON file that a process reads
when it opens it and writes back, unlocked and non-atomically, only when it exits. Two
processes open at once lose each other's changes and a SIGKILLed process writes nothing.

`EmbeddedLaunchPad` uses the same file format and the same in-memory mongomock database,
but makes every LaunchPad call one transaction:

1. take an exclusive lock (``launchpad.lock``, `filelock`), waiting at most
   ``lock_timeout_s`` (then a clear "busy" error);
2. reload the JSON file if another process changed it since this process last saw it
   (a random generation token in ``launchpad.generation`` is replaced before every write);
3. run the FireWorks method on the in-memory database;
4. for methods that can change state, checkpoint: write a temporary file, fsync, and
   rename it over ``launchpad.json`` (atomic), then release the lock.

mongomock-persistence's write-at-exit is disabled. Because checking out a job (READY ->
RUNNING) is one locked transaction, two workers on this machine can never claim the same
job, a submit during a worker run is never lost, and a SIGKILLed worker loses at most the
transaction it was in (which then never happened). Jobs run outside the lock, so several
workers on one machine run jobs in parallel. A job whose worker died stays RUNNING;
`lost_jobs` finds it (the worker's pid is recorded in its launch), `rerun` resets it, and
jobflow's upsert of outputs by ``(uuid, index)`` means a rerun never duplicates a result.

The lock is a POSIX ``flock``: the embedded mode is for one machine (not a shared network
file system). Use MongoDB to spread workers over several machines.
"""

from __future__ import annotations

import functools
import json
import os
import re
import socket
import sys
import threading
import uuid as uuidlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ssbflow.errors import InputError
from ssbflow.settings import SsbflowSettings

#: Sub-folder of ``settings.data_dir`` holding the embedded LaunchPad.
EMBEDDED_DIR = "launchpad"
#: Database name used inside the embedded LaunchPad file.
EMBEDDED_DB_NAME = "fireworks"
#: Default wait for the embedded LaunchPad lock before reporting it busy (s).
LOCK_TIMEOUT_S = 120.0
#: A RUNNING job not pinged for this long is lost (s). FireWorks workers ping every hour.
DEFAULT_LOST_AFTER_S = 4 * 3600.0
#: Key of the worker identity in ``FWorker.env`` (recorded in every launch).
WORKER_ENV_KEY = "ssbflow_worker"

#: LaunchPad methods that never change the database (no checkpoint after them).
_READ_ONLY_METHODS = frozenset(
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

_URI_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://)[^@/\s]+@")


def mask_credentials(text: str) -> str:
    """Replace ``user:password@`` in every URI of ``text`` by ``***@``."""
    return _URI_CREDENTIALS.sub(r"\1***@", str(text))


class LaunchPadBusyError(InputError):
    """The embedded LaunchPad stayed locked by another process for too long."""


# --------------------------------------------------------------------------------------
# The embedded LaunchPad
# --------------------------------------------------------------------------------------


class EmbeddedLaunchPad:
    """A FireWorks LaunchPad on a file-persisted mongomock database, safe across processes.

    Every public LaunchPad method is available on this object and runs as one locked
    transaction (see the module docstring). Use `transaction` to group several calls
    (or direct collection access through `launchpad`) into one.

    Parameters
    ----------
    directory
        Folder of ``launchpad.json``, ``launchpad.lock`` and ``launchpad.generation``.
    lock_timeout_s
        How long to wait for another process's transaction before raising
        `LaunchPadBusyError`.
    """

    def __init__(self, directory: Path, lock_timeout_s: float = LOCK_TIMEOUT_S) -> None:
        import mongomock
        import mongomock.gridfs
        import mongomock_persistence  # noqa: F401  (adds to_dict/from_dict to mongomock stores)
        from filelock import FileLock
        from fireworks.core import launchpad as fw_launchpad
        from mongomock.store import ServerStore

        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "launchpad.json"
        self.lock_timeout_s = lock_timeout_s
        self._generation_path = self.directory / "launchpad.generation"
        self._file_lock = FileLock(str(self.directory / "launchpad.lock"), thread_local=False)
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._seen_generation: str | object | None = object()  # nothing seen yet

        # A bare mongomock server store: mongomock-persistence's ServerStore.__init__ would
        # read MONGOMOCK_SERVERSTORE_FILE and register an unlocked write-at-exit; we don't.
        server = ServerStore.__new__(ServerStore)
        server._filename = None
        server._databases = {}
        self._server = server
        mongomock.gridfs.enable_gridfs_integration()

        def client_factory(*_args: Any, **_kwargs: Any) -> Any:
            return mongomock.MongoClient(_store=server)

        # LaunchPad.__init__ builds its client from the module's MongoClient (as FireWorks'
        # own mongomock mode does via fw_config); swap it only while constructing.
        original = fw_launchpad.MongoClient
        fw_launchpad.MongoClient = client_factory
        try:
            self.launchpad = fw_launchpad.LaunchPad(
                host="mongomock://ssbflow-embedded",
                uri_mode=True,
                name=EMBEDDED_DB_NAME,
                strm_lvl="WARNING",
            )
        finally:
            fw_launchpad.MongoClient = original
        with self.transaction(write=False):
            needs_init = self.launchpad.fw_id_assigner.count_documents({}) == 0
        if needs_init:
            with self.transaction(write=True):
                initialize_launchpad(self.launchpad)

    def describe(self) -> str:
        """One line, for messages."""
        return f"embedded LaunchPad {self.path} (single machine, file-locked)"

    # -- transactions ------------------------------------------------------------------

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Any]:
        """Hold the lock, load the latest state, and (if ``write``) checkpoint at the end.

        Nested transactions join the outermost one. Yields the raw FireWorks LaunchPad.
        """
        from filelock import Timeout

        with self._thread_lock:
            if self._depth > 0:
                self._depth += 1
                try:
                    yield self.launchpad
                finally:
                    self._depth -= 1
                return
            try:
                self._file_lock.acquire(timeout=self.lock_timeout_s)
            except Timeout as exc:
                raise LaunchPadBusyError(
                    f"the embedded LaunchPad {self.path} is busy: another ssbflow process held "
                    f"its lock for more than {self.lock_timeout_s:.0f} s; retry when it is done, "
                    "or check for a stopped ssbflow process"
                ) from exc
            self._depth = 1
            try:
                self._refresh()
                try:
                    yield self.launchpad
                finally:
                    # Like MongoDB, whatever a method changed before it raised is kept.
                    if write:
                        self._checkpoint()
            finally:
                self._depth = 0
                self._file_lock.release()

    def _read_generation(self) -> str | None:
        try:
            return self._generation_path.read_text().strip()
        except FileNotFoundError:
            return None

    def _refresh(self) -> None:
        import bson.json_util
        from mongomock.store import CollectionStore

        generation = self._read_generation()
        if generation is not None and generation == self._seen_generation:
            return
        data: dict[str, Any] = {}
        if self.path.exists():
            try:
                data = bson.json_util.loads(self.path.read_text(encoding="utf-8") or "{}")
            except ValueError as exc:
                raise InputError(
                    f"the embedded LaunchPad file {self.path} is not valid JSON ({exc}); it "
                    "was not written by ssbflow (which writes it atomically): restore it or "
                    "move it away to start an empty LaunchPad"
                ) from exc
        # Update the existing store objects in place: the LaunchPad's mongomock collections
        # look their documents up through them.
        for name, db_store in self._server._databases.items():
            if name not in data:
                db_store._collections = {}
        for name, collections in data.items():
            db_store = self._server[name]
            db_store._collections = {
                cname: CollectionStore.from_dict(cdata) for cname, cdata in collections.items()
            }
        self._seen_generation = generation

    def _checkpoint(self) -> None:
        import bson.json_util

        token = uuidlib.uuid4().hex
        # New generation first: a crash between the two writes only forces a harmless reload.
        _atomic_write(self._generation_path, token)
        _atomic_write(self.path, bson.json_util.dumps(self._server.to_dict()))
        self._seen_generation = token

    # -- LaunchPad methods, each one transaction ----------------------------------------

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "launchpad":
            raise AttributeError(name)
        attr = getattr(self.launchpad, name)
        if not callable(attr) or not hasattr(type(self.launchpad), name):
            return attr
        write = name not in _READ_ONLY_METHODS

        @functools.wraps(attr)
        def call(*args: Any, **kwargs: Any) -> Any:
            with self.transaction(write=write):
                return attr(*args, **kwargs)

        return call


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file, fsync it, and rename it over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def initialize_launchpad(lp: Any) -> None:
    """Create FireWorks' id counters in a new LaunchPad database (what ``reset`` does).

    Unlike ``LaunchPad.reset`` this never deletes anything: it does nothing when the
    counters exist.
    """
    if lp.fw_id_assigner.count_documents({}) == 0:
        lp.fw_id_assigner.update_one(
            {"_id": "ssbflow_fw_id_assigner"},
            {"$setOnInsert": {"next_fw_id": 1, "next_launch_id": 1}},
            upsert=True,
        )


# --------------------------------------------------------------------------------------
# Opening a LaunchPad
# --------------------------------------------------------------------------------------

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand_env(value: Any, source: Path) -> Any:
    """Replace ``${VAR}`` in every string of a loaded YAML document by the environment value."""
    if isinstance(value, dict):
        return {k: _expand_env(v, source) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, source) for v in value]
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise InputError(
                    f"{source} refers to ${{{name}}} but that environment variable is not set; "
                    f"export {name}=... or remove it from the file"
                )
            return os.environ[name]

        return _ENV_REFERENCE.sub(substitute, value)
    return value


def describe_launchpad_config(config: dict[str, Any]) -> str:
    """A credential-free one-line description of a LaunchPad configuration."""
    host = mask_credentials(str(config.get("host") or "localhost"))
    port = config.get("port")
    name = config.get("name") or "fireworks"
    where = host if config.get("uri_mode") or port is None else f"{host}:{port}"
    return f"MongoDB LaunchPad {where}, database '{name}'"


@dataclass
class OpenedLaunchPad:
    """A LaunchPad with a credential-free description of where it is."""

    launchpad: Any
    description: str
    embedded: bool = False
    settings: SsbflowSettings | None = field(default=None, repr=False)

    def transaction(self, write: bool = True) -> Any:
        """Group calls into one transaction (embedded); a no-op context for MongoDB."""
        if self.embedded:
            return self.launchpad.transaction(write=write)
        return nullcontext(self.launchpad)

    @property
    def raw(self) -> Any:
        """The FireWorks LaunchPad itself (for direct collection access in a transaction)."""
        return self.launchpad.launchpad if self.embedded else self.launchpad


def open_launchpad(
    settings: SsbflowSettings,
    launchpad_file: Path | None = None,
    lock_timeout_s: float = LOCK_TIMEOUT_S,
) -> OpenedLaunchPad:
    """The LaunchPad to use: ``launchpad_file``, settings' file, MongoDB, or embedded.

    Raises
    ------
    InputError
        If the LaunchPad file is missing or malformed, refers to an unset environment
        variable, or the database cannot be reached.
    """
    from fireworks import LaunchPad

    path = launchpad_file or settings.launchpad_file
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise InputError(
                f"LaunchPad file {path} does not exist; give an existing file with --launchpad "
                "or SSBFLOW_LAUNCHPAD_FILE (see launchpad.yaml in the ssbflow repository)"
            )
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise InputError(f"cannot read LaunchPad file {path}: {exc}") from exc
        if not isinstance(raw, dict):
            raise InputError(f"LaunchPad file {path} must be a YAML mapping (host:, name:, ...)")
        config = _expand_env(raw, path)
        _check_launchpad_config(config, path)
        config.setdefault("strm_lvl", "WARNING")
        mongo_kwargs = dict(config.get("mongoclient_kwargs") or {})
        mongo_kwargs.setdefault("serverSelectionTimeoutMS", 10000)
        config["mongoclient_kwargs"] = mongo_kwargs
        description = describe_launchpad_config(config)
        lp = _construct_launchpad(lambda: LaunchPad.from_dict(config), f"LaunchPad file {path}")
        opened = OpenedLaunchPad(lp, description, embedded=False, settings=settings)
    elif settings.uses_mongodb:
        uri = settings.mongodb_uri.get_secret_value()  # type: ignore[union-attr]
        lp = _construct_launchpad(
            lambda: LaunchPad(
                host=uri,
                uri_mode=True,
                name=settings.database,
                strm_lvl="WARNING",
                mongoclient_kwargs={"serverSelectionTimeoutMS": 10000},
            ),
            f"MongoDB URI {mask_credentials(uri)} (SSBFLOW_MONGODB_URI)",
        )
        description = f"MongoDB LaunchPad {mask_credentials(uri)}, database '{settings.database}'"
        opened = OpenedLaunchPad(lp, description, embedded=False, settings=settings)
    else:
        elp = EmbeddedLaunchPad(settings.data_dir / EMBEDDED_DIR, lock_timeout_s=lock_timeout_s)
        return OpenedLaunchPad(elp, elp.describe(), embedded=True, settings=settings)
    with database_errors(description):
        initialize_launchpad(opened.raw)
    return opened


_MONGO_SCHEMES = ("mongodb://", "mongodb+srv://")


def _check_launchpad_config(config: dict[str, Any], path: Path) -> None:
    """InputError for a LaunchPad file FireWorks could not use (no host, not MongoDB)."""
    host = config.get("host")
    if not host or not isinstance(host, str):
        raise InputError(
            f"LaunchPad file {path} has no 'host'; give the MongoDB host (host: localhost, "
            "port: 27017, name: fireworks) or a URI (host: mongodb://..., uri_mode: true)",
            field="launchpad_file",
        )
    if "://" in host and not host.startswith(_MONGO_SCHEMES):
        raise InputError(
            f"LaunchPad file {path}: host {mask_credentials(host)} is not a MongoDB address; "
            "FireWorks needs MongoDB (mongodb:// or mongodb+srv://)",
            field="launchpad_file",
        )
    if host.startswith(_MONGO_SCHEMES) and not config.get("uri_mode"):
        config["uri_mode"] = True
    kwargs = config.get("mongoclient_kwargs")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise InputError(
            f"LaunchPad file {path}: mongoclient_kwargs must be a mapping, got {kwargs!r}",
            field="launchpad_file",
        )


def _construct_launchpad(build: Callable[[], Any], what: str) -> Any:
    """Call ``build`` (a FireWorks LaunchPad constructor); configuration errors -> InputError."""
    from pymongo.errors import PyMongoError

    try:
        return build()
    except (PyMongoError, TypeError, ValueError, KeyError) as exc:
        reason = mask_credentials(" ".join(str(exc).split()) or type(exc).__name__)
        raise InputError(
            f"cannot use the {what}: {reason[:300]}; fix the address and options "
            "(see launchpad.yaml in the ssbflow repository)",
            field="launchpad_file",
        ) from None


@contextmanager
def database_errors(description: str) -> Iterator[None]:
    """Turn MongoDB connection/authentication errors into a credential-free InputError."""
    from pymongo.errors import PyMongoError

    try:
        yield
    except PyMongoError as exc:
        reason = mask_credentials(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise InputError(
            f"cannot use the {description}: {reason[:300]}; check the address, credentials and "
            "that the server is running"
        ) from None


# --------------------------------------------------------------------------------------
# Submitting
# --------------------------------------------------------------------------------------


def flow_to_fireworks_workflow(flow: Any) -> Any:
    """The FireWorks Workflow of a jobflow Flow or Job, with no store in its specs.

    Workers use the results store of their own ssbflow settings, so no database address
    (and no credential) is ever serialised into the LaunchPad.
    """
    from jobflow.managers.fireworks import flow_to_workflow

    from ssbflow import __version__

    wf = flow_to_workflow(flow, store=None)
    wf.metadata = {**(wf.metadata or {}), "ssbflow_version": __version__}
    return wf


def submit_flow(
    flow: Any,
    settings: SsbflowSettings,
    launchpad_file: Path | None = None,
    dry_run: bool = False,
    as_json: bool = False,
) -> int | None:
    """Add ``flow`` to the LaunchPad as a FireWorks workflow and print its id on stdout.

    Parameters
    ----------
    flow
        A jobflow Flow or Job.
    settings
        ssbflow settings (LaunchPad and results store).
    launchpad_file
        LaunchPad YAML overriding ``settings.launchpad_file``.
    dry_run
        Print the jobs that would be added (on stdout) and store nothing.
    as_json
        Print one JSON object instead: ``{"workflow_id": ...}``, or for a dry run
        ``{"dry_run": true, "workflow": ..., "jobs": [...]}``.

    Returns
    -------
    int or None
        The workflow id (the smallest FireWorks id of its jobs); ``None`` for a dry run.
    """
    from ssbflow.execution.store import describe_store

    wf = flow_to_fireworks_workflow(flow)
    n_jobs = len(wf.fws)
    if dry_run:
        parents: dict[int, list[str]] = {}
        names = {fw.fw_id: fw.name for fw in wf.fws}
        for parent, children in wf.links.items():
            for child in children:
                parents.setdefault(child, []).append(names[parent])
        if as_json:
            jobs = [{"name": fw.name, "after": parents.get(fw.fw_id, [])} for fw in wf.fws]
            print(json.dumps({"dry_run": True, "workflow": wf.name, "jobs": jobs}))
            return None
        print(f"dry run: workflow '{wf.name}' with {n_jobs} job(s) would be added:")
        for fw in wf.fws:
            after = f" (after {', '.join(parents[fw.fw_id])})" if fw.fw_id in parents else ""
            print(f"  {fw.name}{after}")
        print("nothing was stored")
        return None
    opened = open_launchpad(settings, launchpad_file)
    with database_errors(opened.description):
        id_map = opened.launchpad.add_wf(wf)
    wf_id = min(id_map.values())
    print(json.dumps({"workflow_id": wf_id}) if as_json else wf_id)
    sys.stderr.write(
        f"submitted workflow '{wf.name}' ({n_jobs} job(s)) as id {wf_id} to "
        f"{opened.description}; results will go to {describe_store(settings)}. "
        "Run 'ssbflow worker' to run it.\n"
    )
    return wf_id


# --------------------------------------------------------------------------------------
# Workers
# --------------------------------------------------------------------------------------


def worker_identity() -> dict[str, Any]:
    """Host, pid and process start time of this process (to detect dead workers)."""
    import psutil

    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": psutil.Process().create_time(),
        "token": uuidlib.uuid4().hex,
    }


def _worker_alive(identity: dict[str, Any]) -> bool | None:
    """Whether the worker of ``identity`` still runs; ``None`` if it ran on another host."""
    import psutil

    if not identity or identity.get("host") != socket.gethostname():
        return None
    try:
        proc = psutil.Process(int(identity["pid"]))
        return abs(proc.create_time() - float(identity["started"])) < 1.0 and (
            proc.status() != psutil.STATUS_ZOMBIE
        )
    except (psutil.NoSuchProcess, psutil.AccessDenied, KeyError, ValueError):
        return False


def run_worker(
    settings: SsbflowSettings,
    launchpad_file: Path | None = None,
    max_jobs: int | None = None,
    work_dir: Path | None = None,
    fworker_file: Path | None = None,
    poll_s: float = 2.0,
    log: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Run ready jobs (rapid-fire) until none are left or ``max_jobs`` have run.

    Job outputs go to ``get_jobstore(settings)``: the worker sets jobflow's
    ``SETTINGS.JOB_STORE`` for this process.

    Returns
    -------
    dict
        Counts of this worker's launches by final state, e.g. ``{"COMPLETED": 3}``.
    """
    from fireworks import FWorker
    from fireworks.core.rocket_launcher import rapidfire
    from jobflow import SETTINGS

    from ssbflow.execution.store import describe_store, get_jobstore

    log = log or (lambda message: sys.stderr.write(message + "\n"))
    if max_jobs is not None and max_jobs < 1:
        raise InputError(f"--max-jobs must be at least 1, got {max_jobs}")
    if fworker_file is not None:
        if not Path(fworker_file).is_file():
            raise InputError(
                f"worker file {fworker_file} does not exist; see my_fworker.yaml",
                field="fworker_file",
            )
        try:
            fworker = FWorker.from_file(str(fworker_file))
        except Exception as exc:  # FireWorks raises YAML, serialization and type errors
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise InputError(
                f"cannot read the worker file {fworker_file} ({reason}); it must be a YAML "
                "mapping like my_fworker.yaml (name:, category:, query:)",
                field="fworker_file",
            ) from None
    else:
        fworker = FWorker(name=f"ssbflow@{socket.gethostname()}")
    # the LaunchPad is opened (and an embedded one created) only once the input is good
    opened = open_launchpad(settings, launchpad_file)
    identity = worker_identity()
    fworker.env = {**(fworker.env or {}), WORKER_ENV_KEY: identity}

    SETTINGS.JOB_STORE = get_jobstore(settings)
    root = Path(work_dir or settings.data_dir / "runs" / "fireworks").expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)

    log(f"ssbflow worker {identity['pid']}: jobs from {opened.description}")
    log(f"results go to {describe_store(settings)}; job folders in {root}")
    if opened.embedded:
        log(
            "embedded mode: for this machine only. Every LaunchPad access holds an exclusive "
            "file lock and is saved atomically, so workers started here never claim the "
            "same job and a submit while they run is never lost. Use MongoDB to run "
            "workers on several machines."
        )
    elif not settings.uses_mongodb:
        log(
            "warning: the LaunchPad is a MongoDB but results go to the embedded store on "
            "this machine; set SSBFLOW_MONGODB_URI so that 'ssbflow results' sees them "
            "from anywhere"
        )
    from ssbflow.execution.runner import tuned_gc

    with database_errors(opened.description), tuned_gc():
        rapidfire(
            opened.launchpad,
            fworker,
            m_dir=str(root),
            nlaunches=max_jobs or 0,
            sleep_time=max(1, round(poll_s)),
            strm_lvl="INFO",
        )
        with opened.transaction(write=False) as lp:
            counts: dict[str, int] = {}
            for launch in lp.launches.find(
                {f"fworker.env.{WORKER_ENV_KEY}.token": identity["token"]}, {"state": 1}
            ):
                counts[launch["state"]] = counts.get(launch["state"], 0) + 1
    summary = ", ".join(f"{n} {state.lower()}" for state, n in sorted(counts.items()))
    log(f"ssbflow worker {identity['pid']}: done ({summary or 'no jobs were ready'})")
    return counts


# --------------------------------------------------------------------------------------
# Status and rerun
# --------------------------------------------------------------------------------------


@dataclass
class JobStatus:
    """State of one job (FireWork) of a workflow."""

    fw_id: int
    name: str
    state: str
    uuid: str | None = None
    lost: bool = False
    error: str | None = None
    worker: str | None = None
    launch_dir: str | None = None


@dataclass
class WorkflowStatus:
    """A workflow and its jobs."""

    id: int
    name: str
    state: str
    created_on: str | None
    jobs: list[JobStatus]


def _error_of(launch: dict[str, Any] | None) -> str | None:
    """The last line of the exception of a failed launch."""
    if not launch:
        return None
    stored = ((launch.get("action") or {}).get("stored_data")) or {}
    trace = ((stored.get("_exception") or {}).get("_stacktrace")) or stored.get("_message")
    if not trace:
        return None
    lines = [line for line in str(trace).strip().splitlines() if line.strip()]
    return mask_credentials(lines[-1].strip()) if lines else None


def lost_jobs(opened: OpenedLaunchPad, lost_after_s: float = DEFAULT_LOST_AFTER_S) -> set[int]:
    """Ids of RUNNING jobs whose worker is gone.

    A job is lost when its worker on this host is no longer running (recorded pid), or
    when its launch has not been pinged for ``lost_after_s`` (FireWorks'
    ``detect_lostruns``; workers ping hourly), whichever is found. A job whose worker
    runs on this host and is alive is never lost, whatever ``lost_after_s`` says:
    resetting it would run it twice.

    Raises
    ------
    InputError
        ``lost_after_s`` is not a positive, finite number of seconds.
    """
    from ssbflow.validation import check_lost_after

    lost_after_s = check_lost_after(lost_after_s, "lost_after_s")
    with opened.transaction(write=False) as lp:
        _, lost, _ = lp.detect_lostruns(expiration_secs=lost_after_s)
        found = set(lost)
        for fw in lp.fireworks.find({"state": "RUNNING"}, {"fw_id": 1, "launches": 1}):
            if not fw.get("launches"):
                continue
            launch = lp.launches.find_one(
                {"launch_id": fw["launches"][-1]}, {"fworker": 1, "state": 1}
            )
            identity = ((launch or {}).get("fworker") or {}).get("env", {}).get(WORKER_ENV_KEY)
            if not launch or launch.get("state") != "RUNNING":
                continue
            alive = _worker_alive(identity)
            if alive is False:
                found.add(fw["fw_id"])
            elif alive is True:
                found.discard(fw["fw_id"])
    return found


def workflow_status(
    opened: OpenedLaunchPad, lost_after_s: float = DEFAULT_LOST_AFTER_S
) -> list[WorkflowStatus]:
    """Every workflow of the LaunchPad with its jobs' states and errors, oldest first."""
    with database_errors(opened.description), opened.transaction(write=False) as lp:
        lost = lost_jobs(opened, lost_after_s)
        result = []
        for wf in lp.workflows.find({}, {"nodes": 1, "name": 1, "state": 1, "created_on": 1}):
            nodes = sorted(wf.get("nodes", []))
            jobs = []
            for fw in lp.fireworks.find(
                {"fw_id": {"$in": nodes}},
                {"fw_id": 1, "name": 1, "state": 1, "launches": 1, "spec._tasks": 1},
            ):
                tasks = (fw.get("spec") or {}).get("_tasks") or [{}]
                job_uuid = ((tasks[0] or {}).get("job") or {}).get("uuid")
                launch = None
                if fw.get("launches"):
                    launch = lp.launches.find_one({"launch_id": fw["launches"][-1]})
                identity = (((launch or {}).get("fworker") or {}).get("env") or {}).get(
                    WORKER_ENV_KEY
                )
                jobs.append(
                    JobStatus(
                        fw_id=fw["fw_id"],
                        name=fw.get("name", ""),
                        state=fw.get("state", "?"),
                        uuid=job_uuid,
                        lost=fw["fw_id"] in lost,
                        error=_error_of(launch) if fw.get("state") == "FIZZLED" else None,
                        worker=(
                            f"{identity['host']}:{identity['pid']}"
                            if isinstance(identity, dict) and "pid" in identity
                            else None
                        ),
                        launch_dir=(launch or {}).get("launch_dir"),
                    )
                )
            jobs.sort(key=lambda j: j.fw_id)
            result.append(
                WorkflowStatus(
                    id=nodes[0] if nodes else -1,
                    name=wf.get("name", ""),
                    state=wf.get("state", "?"),
                    created_on=str(wf.get("created_on")) if wf.get("created_on") else None,
                    jobs=jobs,
                )
            )
    result.sort(key=lambda w: w.id)
    return result


def rerun(
    opened: OpenedLaunchPad, ident: int, lost_after_s: float = DEFAULT_LOST_AFTER_S
) -> list[int]:
    """Rerun the failed (FIZZLED) and lost jobs of workflow ``ident`` (or job ``ident``).

    ``ident`` is a workflow id as printed by ``ssbflow submit`` / ``ssbflow status``; if
    no workflow has that id it is taken as the id of one job.

    Returns
    -------
    list of int
        The ids of the jobs reset to run again.

    Raises
    ------
    InputError
        If there is no such workflow or job, or nothing in it failed or was lost.
    """
    with database_errors(opened.description), opened.transaction(write=True) as lp:
        wf = lp.workflows.find_one({"nodes": ident}, {"nodes": 1, "name": 1})
        if wf is None:
            raise InputError(f"no workflow or job with id {ident}; see 'ssbflow status'")
        if min(wf["nodes"]) == ident:
            candidates = sorted(wf["nodes"])
            what = f"workflow {ident} ('{wf.get('name', '')}')"
        else:
            candidates = [ident]
            what = f"job {ident}"
        lost = lost_jobs(opened, lost_after_s)
        states = {
            fw["fw_id"]: fw["state"]
            for fw in lp.fireworks.find({"fw_id": {"$in": candidates}}, {"fw_id": 1, "state": 1})
        }
        todo = [i for i in candidates if states.get(i) == "FIZZLED" or i in lost]
        if not todo:
            summary = ", ".join(f"{i}: {states.get(i, '?')}" for i in candidates)
            raise InputError(
                f"{what} has no failed or lost job to rerun ({summary}); a running job is "
                f"lost only once its worker is gone or silent for {lost_after_s:.0f} s "
                "(--lost-after)"
            )
        for fw_id in todo:
            if fw_id in lost:
                fw = lp.fireworks.find_one({"fw_id": fw_id}, {"launches": 1})
                for launch_id in fw.get("launches", []):
                    launch = lp.launches.find_one({"launch_id": launch_id}, {"state": 1})
                    if launch and launch.get("state") == "RUNNING":
                        lp.mark_fizzled(launch_id)
            lp.rerun_fw(fw_id)
    return todo
