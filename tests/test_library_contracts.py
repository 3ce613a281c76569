"""What `ssbflow.execution._compat` relies on in FireWorks, mongomock and jobflow.

None of it is promised by the libraries (private attributes, a module global, log text,
stored document layouts). Each test checks one item against the installed version and,
when it fails, says what changed and what to update in ``_compat``.
"""

from __future__ import annotations

import logging

import pytest
from jobflow import Flow, JobStore, job, run_locally
from maggma.stores import MemoryStore

from ssbflow.execution import _compat


@job
def _fails_with(message: str) -> None:
    raise RuntimeError(message)


@job
def _double(x: float) -> float:
    return 2 * x


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []
        self.exceptions: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        if _compat.job_failure(record.getMessage()) is not None:
            self.exceptions.append(_compat.job_exception())


# --------------------------------------------------------------------------------------
# jobflow
# --------------------------------------------------------------------------------------


def test_jobflow_logs_job_starts_and_failures_in_the_parsed_shape():
    """run_locally logs each start and each failure (with its traceback) under "jobflow",
    and keeps running the other branches after a failure."""
    failing = _fails_with("boom 42")
    failing.name = "side job"
    ok = _double(3.0)
    ok.name = "main job"
    store = JobStore(MemoryStore())
    logger = logging.getLogger(_compat.JOBFLOW_LOGGER)
    records = _Records()
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(records)
    try:
        responses = run_locally(Flow([failing, ok]), store=store, log=False)
    finally:
        logger.removeHandler(records)
        logger.setLevel(old_level)

    started = [n for n in map(_compat.job_started, records.messages) if n is not None]
    assert sorted(started) == ["main job", "side job"], (
        "jobflow no longer logs 'Starting job - <name> (<uuid>)' under the "
        f"'{_compat.JOBFLOW_LOGGER}' logger when a job starts; update "
        f"ssbflow.execution._compat.job_started. Messages seen: {records.messages}"
    )
    failures = [f for f in map(_compat.job_failure, records.messages) if f is not None]
    assert len(failures) == 1 and failures[0][0] == "side job", (
        "jobflow's run_locally no longer logs '<name> failed with exception:\\n<traceback>' "
        "when a job raises; update ssbflow.execution._compat.job_failure "
        "(ssbflow.execution.runner reports failures from it). "
        f"Messages seen: {records.messages}"
    )
    last_line = [line for line in failures[0][1].splitlines() if line.strip()][-1]
    assert last_line.strip() == "RuntimeError: boom 42", (
        f"the traceback of jobflow's failure message no longer ends with the exception: "
        f"{failures[0][1]!r}"
    )
    assert isinstance(records.exceptions[0], RuntimeError) and "boom 42" in str(
        records.exceptions[0]
    ), (
        "jobflow no longer logs a job failure from inside its except block (the handler saw "
        f"{records.exceptions!r} in sys.exc_info()); update "
        "ssbflow.execution._compat.job_exception (FlowFailedError.field comes from it)"
    )
    # ssbflow relies on the default raise_immediately=False: the other branch still ran
    assert ok.uuid in responses and failing.uuid not in responses, (
        "run_locally no longer runs the other branches of a flow after a job fails"
    )
    store.connect()
    assert store.get_output(ok.uuid) == 6.0


def test_jobflow_firework_spec_carries_the_job_uuid(tmp_path):
    """flow_to_workflow puts the job (with its uuid) in spec._tasks[0].job, as stored."""
    from ssbflow.execution.launchpad import EmbeddedLaunchPad
    from ssbflow.execution.submit import flow_to_fireworks_workflow

    one = _double(1.0)
    elp = EmbeddedLaunchPad(tmp_path / "lp")
    (fw_id,) = elp.add_wf(flow_to_fireworks_workflow(one)).values()
    with elp.transaction(write=False) as lp:
        doc = lp.fireworks.find_one({"fw_id": fw_id}, {_compat.JOB_SPEC_FIELD: 1})
    assert _compat.job_uuid_of_firework(doc) == one.uuid, (
        "jobflow's FireWorks converter no longer stores the job as spec._tasks[0].job "
        f"(stored spec: {doc.get('spec')}); update _compat.job_uuid_of_firework"
    )


# --------------------------------------------------------------------------------------
# FireWorks
# --------------------------------------------------------------------------------------


def test_fireworks_launchpad_builds_its_client_from_the_module_mongoclient():
    import mongomock
    from fireworks.core import launchpad as fw_launchpad

    assert hasattr(fw_launchpad, "MongoClient"), (
        "fireworks.core.launchpad has no module attribute MongoClient any more; "
        "_compat.launchpad_on_mongomock swaps it to put the LaunchPad on mongomock"
    )
    original = fw_launchpad.MongoClient
    server = _compat.bare_mongomock_server()
    lp = _compat.launchpad_on_mongomock(
        lambda: _compat.mongomock_client(server),
        host="mongomock://contract",
        uri_mode=True,
        name="contract",
        strm_lvl="WARNING",
    )
    assert fw_launchpad.MongoClient is original, "the swapped MongoClient was not restored"
    assert isinstance(lp.connection, mongomock.MongoClient), (
        "LaunchPad.__init__ no longer builds its client from "
        f"fireworks.core.launchpad.MongoClient (got {type(lp.connection)}); "
        "update _compat.launchpad_on_mongomock"
    )
    lp.fireworks.insert_one({"fw_id": 7})
    assert server["contract"]["fireworks"].is_created


def test_fireworks_read_only_method_list_matches_the_launchpad():
    """Every public LaunchPad method is classified, and every classified one exists."""
    from fireworks import LaunchPad

    methods = {
        n for n in dir(LaunchPad) if not n.startswith("_") and callable(getattr(LaunchPad, n))
    }
    read_only = _compat.LAUNCHPAD_READ_ONLY_METHODS
    checkpointed = _compat.LAUNCHPAD_CHECKPOINTED_METHODS
    assert not read_only & checkpointed
    gone = sorted((read_only | checkpointed) - methods)
    assert not gone, (
        f"FireWorks' LaunchPad no longer has {gone}; remove them from "
        "_compat.LAUNCHPAD_READ_ONLY_METHODS / LAUNCHPAD_CHECKPOINTED_METHODS"
    )
    new = sorted(methods - read_only - checkpointed)
    assert not new, (
        f"FireWorks' LaunchPad has new public methods {new}: add each one to "
        "_compat.LAUNCHPAD_READ_ONLY_METHODS if it never changes the database, else to "
        "LAUNCHPAD_CHECKPOINTED_METHODS (the embedded LaunchPad checkpoints after it)"
    )


def test_fireworks_id_counters_and_failed_launch_layout(tmp_path, monkeypatch):
    """Our id counters document is the one FireWorks reads, and a failed launch keeps its
    traceback where `_compat.launch_traceback` looks."""
    from fireworks import Firework, FWorker, PyTask, Workflow
    from fireworks.core.rocket_launcher import launch_rocket

    from ssbflow.execution.launchpad import EmbeddedLaunchPad

    monkeypatch.chdir(tmp_path)
    elp = EmbeddedLaunchPad(tmp_path / "lp")
    bad = Firework(PyTask(func="int", args=["not a number"]), name="bad")
    ids = elp.add_wf(Workflow([bad]))
    assert list(ids.values()) == [1], (
        "FireWorks did not number the first firework 1 from the counters document "
        "_compat.initialize_id_counters wrote; update it to what LaunchPad.reset writes"
    )
    launch_rocket(elp, FWorker(), strm_lvl="ERROR")
    with elp.transaction(write=False) as lp:
        fw = lp.fireworks.find_one({"fw_id": 1}, {"state": 1, "launches": 1})
        launch = lp.launches.find_one({"launch_id": fw["launches"][-1]})
    assert fw["state"] == "FIZZLED"
    assert launch["launch_id"] == 1, "launch ids no longer come from the counters document"
    trace = _compat.launch_traceback(launch)
    assert trace and "invalid literal for int()" in trace.strip().splitlines()[-1], (
        "a failed FireWorks launch no longer keeps its traceback in "
        f"action.stored_data._exception._stacktrace (launch action: {launch.get('action')}); "
        "update _compat.launch_traceback"
    )


# --------------------------------------------------------------------------------------
# mongomock / mongomock-persistence
# --------------------------------------------------------------------------------------


def test_mongomock_server_store_private_attributes(monkeypatch):
    """The bare server store has exactly the attributes ServerStore() sets."""
    monkeypatch.delenv("MONGOMOCK_SERVERSTORE_FILE", raising=False)
    import mongomock_persistence  # noqa: F401
    from mongomock.store import DatabaseStore, ServerStore

    real = ServerStore()
    bare = _compat.bare_mongomock_server()
    assert set(vars(real)) == set(_compat.SERVER_STORE_ATTRIBUTES) == set(vars(bare)), (
        f"mongomock(-persistence) ServerStore() now sets {sorted(vars(real))}; "
        f"_compat.bare_mongomock_server sets {sorted(vars(bare))}: update it"
    )
    assert isinstance(bare["db"], DatabaseStore) and "_collections" in vars(bare["db"]), (
        "mongomock's DatabaseStore no longer keeps its collections in _collections; "
        "update _compat.load_server_dict"
    )
    for name in ("to_dict", "from_dict"):
        assert hasattr(DatabaseStore, name), f"mongomock-persistence no longer adds {name}"


def test_mongomock_server_dict_round_trip_updates_open_handles_in_place():
    """What the embedded LaunchPad's reload needs: loaded data reaches open collections."""
    source = _compat.bare_mongomock_server()
    _compat.mongomock_client(source)["db"]["c"].insert_one({"_id": 1, "value": 2.5})
    data = _compat.server_to_dict(source)

    target = _compat.bare_mongomock_server()
    client = _compat.mongomock_client(target)
    handle = client["db"]["c"]  # opened before the data is loaded
    client["old"]["gone"].insert_one({"_id": 9})
    _compat.load_server_dict(target, data)
    assert handle.find_one({"_id": 1}) == {"_id": 1, "value": 2.5}
    assert client["old"]["gone"].count_documents({}) == 0


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({"output.result_type": {"$exists": True}}, True),
        ({"output.result_type": "adhesion"}, True),
        ({"output.formula": {"$in": ["Li3PS4", "Li2O"]}}, True),
        ({"index": {"$gt": 1}}, True),
        ({"output.calculator": "chgnet"}, False),
        ({"output.missing": {"$exists": True}}, False),
    ],
)
def test_mongomock_matcher_answers_the_filters_ssbflow_uses(criteria, expected):
    doc = {"uuid": "u", "index": 2, "output": {"result_type": "adhesion", "formula": "Li2O"}}
    assert _compat.filter_applies(criteria, doc) is expected, (
        f"mongomock.filtering.filter_applies({criteria}) changed meaning "
        "(the SQLite results store evaluates filters with it)"
    )
