"""Moved public names keep working for one release, with a DeprecationWarning."""

from __future__ import annotations

import importlib
import sys
import warnings

import pytest

MOVED = {
    "ssbflow.runner": ("ssbflow.execution.runner", "run_flow"),
    "ssbflow.fw": ("ssbflow.execution.fw", "submit_flow"),
    "ssbflow.store": ("ssbflow.execution.store", "get_jobstore"),
    "ssbflow.sqlite_store": ("ssbflow.execution.sqlite_store", "SQLiteStore"),
    "ssbflow.reference": ("ssbflow.reproduce.reference", "load_reference_set"),
}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_module_name_warns_and_is_the_new_module(old):
    new, name = MOVED[old]
    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert any(
        issubclass(w.category, DeprecationWarning) and new in str(w.message) for w in caught
    ), [str(w.message) for w in caught]
    # the alias is the module itself: patching one patches the other
    assert module is importlib.import_module(new)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)


def test_reproduce_package_keeps_the_former_module_names():
    import ssbflow.reproduce as package
    from ssbflow.reproduce import report, runs

    assert package.write_report is report.write_report
    for name in ("reproduce", "build_tasks", "assemble", "ReproduceOptions", "write_vasp_inputs"):
        assert getattr(package, name) is getattr(runs, name)
