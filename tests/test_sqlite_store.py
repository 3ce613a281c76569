"""The embedded SQLite results store: MongoDB-style queries, upserts, processes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ssbflow.execution.sqlite_store import SQLiteStore


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(str(tmp_path / "db.sqlite"), "docs", key=["uuid", "index"])
    s.connect()
    s.update(
        [
            {"uuid": "a", "index": 1, "output": {"result_type": "adhesion", "w": 0.5}},
            {"uuid": "a", "index": 2, "output": {"result_type": "adhesion", "w": 0.7}},
            {"uuid": "b", "index": 1, "output": {"result_type": "phonons", "t": 300}},
            {"uuid": "c", "index": 1, "output": 3},
        ]
    )
    yield s
    s.close()


def test_upsert_by_key(store):
    store.update({"uuid": "a", "index": 2, "output": {"result_type": "adhesion", "w": 0.9}})
    assert store.count() == 4
    assert store.query_one({"uuid": "a", "index": 2})["output"]["w"] == 0.9


def test_mongo_filters_projection_sort(store):
    found = list(store.query({"output.result_type": {"$exists": True}}, ["uuid", "index"]))
    assert sorted((d["uuid"], d["index"]) for d in found) == [("a", 1), ("a", 2), ("b", 1)]
    assert all(set(d) == {"uuid", "index"} for d in found)
    last = store.query_one({"uuid": "a"}, ["index"], sort={"index": -1})
    assert last == {"index": 2}
    first = store.query_one({"uuid": "a"}, ["index"], sort={"index": 1})
    assert first == {"index": 1}
    assert store.count({"output.w": {"$gt": 0.6}}) == 1
    assert store.count({"uuid": {"$in": ["a", "c"]}}) == 3
    assert sorted(store.distinct("uuid")) == ["a", "b", "c"]
    assert [d["index"] for d in store.query({"uuid": "a"}, sort={"index": 1}, skip=1)] == [2]
    assert len(list(store.query(limit=2))) == 2
    groups = dict(
        (g["uuid"], len(docs)) for g, docs in store.groupby("uuid", {"uuid": {"$ne": "c"}})
    )
    assert groups == {"a": 2, "b": 1}


def test_remove_docs(store):
    store.remove_docs({"uuid": "a"})
    assert store.count() == 2
    assert store.query_one({"uuid": "a"}) is None


def test_another_process_sees_writes(store, tmp_path):
    code = (
        "from ssbflow.execution.sqlite_store import SQLiteStore;"
        f"s=SQLiteStore({str(tmp_path / 'db.sqlite')!r}, 'docs', key=['uuid','index']);"
        "s.connect(); s.update({'uuid': 'd', 'index': 1, 'output': 4}); print(s.count())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "5", out.stderr
    assert store.query_one({"uuid": "d"})["output"] == 4


def test_not_connected_is_an_error(tmp_path):
    s = SQLiteStore(str(tmp_path / "x.sqlite"), "docs", key="uuid")
    with pytest.raises(RuntimeError, match="not connected"):
        list(s.query())


def test_roundtrip_as_dict(tmp_path):
    s = SQLiteStore(str(tmp_path / "x.sqlite"), "docs", key="blob_uuid")
    t = SQLiteStore.from_dict(s.as_dict())
    assert t == s
