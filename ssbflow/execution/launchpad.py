"""The FireWorks LaunchPad (the queue of jobs): embedded, from a file, or MongoDB.

Which one `open_launchpad` opens: ``launchpad_file`` (or ``settings.launchpad_file``,
``SSBFLOW_LAUNCHPAD_FILE``) if given; else the MongoDB of ``settings.mongodb_uri`` if set
(database ``settings.database``); else the *embedded* LaunchPad in
``settings.data_dir / "launchpad"``.

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
workers on one machine run jobs in parallel.

The lock is a POSIX ``flock``: the embedded mode is for one machine (not a shared network
file system). Use MongoDB to spread workers over several machines. What this relies on
in FireWorks and mongomock is kept in `ssbflow.execution._compat`.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import uuid as uuidlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ssbflow.errors import InputError
from ssbflow.execution import _compat
from ssbflow.settings import SsbflowSettings

#: Sub-folder of ``settings.data_dir`` holding the embedded LaunchPad.
EMBEDDED_DIR = "launchpad"
#: Database name used inside the embedded LaunchPad file.
EMBEDDED_DB_NAME = "fireworks"
#: Default wait for the embedded LaunchPad lock before reporting it busy (s).
LOCK_TIMEOUT_S = 120.0

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
        from filelock import FileLock

        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "launchpad.json"
        self.lock_timeout_s = lock_timeout_s
        self._generation_path = self.directory / "launchpad.generation"
        self._file_lock = FileLock(str(self.directory / "launchpad.lock"), thread_local=False)
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._seen_generation: str | object | None = object()  # nothing seen yet

        # A bare mongomock server store (no file read, no unlocked write-at-exit), and a
        # LaunchPad whose client is on it.
        server = _compat.bare_mongomock_server()
        self._server = server
        self.launchpad = _compat.launchpad_on_mongomock(
            lambda: _compat.mongomock_client(server),
            host="mongomock://ssbflow-embedded",
            uri_mode=True,
            name=EMBEDDED_DB_NAME,
            strm_lvl="WARNING",
        )
        with self.transaction(write=False):
            needs_init = not _compat.has_id_counters(self.launchpad)
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
        _compat.load_server_dict(self._server, data)
        self._seen_generation = generation

    def _checkpoint(self) -> None:
        import bson.json_util

        token = uuidlib.uuid4().hex
        # New generation first: a crash between the two writes only forces a harmless reload.
        _atomic_write(self._generation_path, token)
        _atomic_write(self.path, bson.json_util.dumps(_compat.server_to_dict(self._server)))
        self._seen_generation = token

    # -- LaunchPad methods, each one transaction ----------------------------------------

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "launchpad":
            raise AttributeError(name)
        attr = getattr(self.launchpad, name)
        if not callable(attr) or not hasattr(type(self.launchpad), name):
            return attr
        write = name not in _compat.LAUNCHPAD_READ_ONLY_METHODS

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
    _compat.initialize_id_counters(lp)


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
                f"LaunchPad file {path} does not exist; give an existing file with "
                "launchpad_file or SSBFLOW_LAUNCHPAD_FILE (see launchpad.yaml in the ssbflow "
                "repository)",
                field="launchpad_file",
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
