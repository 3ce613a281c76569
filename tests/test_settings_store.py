"""Settings, the results store and calculator selection."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ssbflow.calculators import check_calculator, get_calculator, level_of_theory, normalize_name
from ssbflow.errors import InputError
from ssbflow.execution.store import describe_store, get_jobstore
from ssbflow.settings import get_settings


def test_env_prefix_and_override(monkeypatch, tmp_path):
    monkeypatch.setenv("SSBFLOW_DATA_DIR", str(tmp_path / "a"))
    monkeypatch.setenv("SSBFLOW_DEFAULT_CALCULATOR", "emt")
    s = get_settings()
    assert s.data_dir == tmp_path / "a"
    assert s.default_calculator == "emt"
    assert get_settings(data_dir=tmp_path / "b").data_dir == tmp_path / "b"
    assert not s.uses_mongodb


def test_yaml_settings_file(monkeypatch, tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'from-yaml'}\ndatabase: mine\n")
    monkeypatch.setenv("SSBFLOW_CONFIG_FILE", str(cfg))
    monkeypatch.delenv("SSBFLOW_DATA_DIR")
    s = get_settings()
    assert s.data_dir == tmp_path / "from-yaml"
    assert s.database == "mine"
    # environment beats the file
    monkeypatch.setenv("SSBFLOW_DATABASE", "env")
    assert get_settings().database == "env"


def test_bad_yaml_is_input_error(monkeypatch, tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("data_dir: [unclosed\n")
    monkeypatch.setenv("SSBFLOW_CONFIG_FILE", str(cfg))
    with pytest.raises(InputError):
        get_settings()


def test_missing_or_non_mapping_settings_file_is_input_error(monkeypatch, tmp_path):
    """An explicitly named settings file must exist and hold a mapping (issue 10)."""
    monkeypatch.setenv("SSBFLOW_CONFIG_FILE", str(tmp_path / "absent.yaml"))
    with pytest.raises(InputError, match=r"absent\.yaml does not exist") as info:
        get_settings()
    assert info.value.field == "config_file"
    listed = tmp_path / "list.yaml"
    listed.write_text("- data_dir\n- database\n")
    monkeypatch.setenv("SSBFLOW_CONFIG_FILE", str(listed))
    with pytest.raises(InputError, match="must be a YAML mapping"):
        get_settings()
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    monkeypatch.setenv("SSBFLOW_CONFIG_FILE", str(empty))
    assert get_settings().database == "ssbflow"  # an empty file is no settings at all


def test_mongodb_uri_is_secret(monkeypatch):
    monkeypatch.setenv("SSBFLOW_MONGODB_URI", "mongodb://user:hunter2@db.example:27017")
    s = get_settings()
    assert s.uses_mongodb
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.model_dump())
    assert "hunter2" not in describe_store(s)
    store = get_jobstore(s)  # building does not connect
    assert type(store.docs_store).__name__ == "MongoURIStore"


def test_embedded_store_persists_across_processes(settings):
    from jobflow import job

    from ssbflow.execution.runner import run_flow

    @job
    def double(x):
        return 2 * x

    j = double(21)
    run_flow(j, settings, progress=False)
    code = (
        "from ssbflow.settings import get_settings; from ssbflow.execution.store import get_jobstore;"
        "s=get_jobstore(get_settings()); s.connect();"
        f"print(s.get_output('{j.uuid}'))"
    )
    env = {**os.environ, "SSBFLOW_DATA_DIR": str(settings.data_dir)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "42"


@pytest.mark.parametrize(
    ("name", "canonical"), [("CHGNet", "chgnet"), ("7net", "sevennet"), ("EMT", "emt")]
)
def test_calculator_names(name, canonical):
    assert normalize_name(name) == canonical


def test_calculator_checks():
    assert check_calculator("emt", ["Cu", "Ag"]) == "emt"
    with pytest.raises(InputError, match="EMT has no parameters for Li"):
        check_calculator("emt", ["Li", "O"])
    with pytest.raises(InputError, match="unknown calculator"):
        check_calculator("nonsense", ["Li"])
    with pytest.raises(InputError, match="cannot import"):
        check_calculator("nosuch.module:Calc", ["Li"])
    assert check_calculator("ase.calculators.emt:EMT", ["Cu"]) == "ase.calculators.emt:EMT"
    assert level_of_theory("chgnet") == "ML potential (chgnet)"


def test_import_path_calculator_is_built_with_kwargs():
    calc = get_calculator("ase.calculators.lj:LennardJones", {"sigma": 2.5})
    assert calc.parameters["sigma"] == 2.5


def test_chgnet_model_is_loaded_once():
    a = get_calculator("chgnet")
    b = get_calculator("chgnet")
    assert a is b


def test_phases_command_json(run_cli):
    code, out, _ = run_cli("phases", "--json")
    assert code == 0
    names = {p["name"] for p in json.loads(out)["phases"]}
    assert {"Li", "Na", "K", "Li2O", "LiF", "Li3PS4", "Li6PS5Cl", "LLZO", "Na3PS4"} <= names


@pytest.mark.parametrize(
    "args", [("phases", "--bogus"), ("adhesion",), ("adhesion", "Li", "Li2O", "--max-strain", "x")]
)
def test_usage_errors_are_one_line_exit_2(args, run_cli):
    code, out, err = run_cli(*args)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("ssbflow: error:")


@pytest.mark.slow
def test_sevennet_loads_offline_and_agrees_with_chgnet():
    pytest.importorskip("sevenn", reason="SevenNet is not installed (pip install 'ssbflow[test]')")
    from pymatgen.io.ase import AseAtomsAdaptor

    from ssbflow.structures.library import get_phase

    energies = {}
    for name in ("sevennet", "chgnet"):
        atoms = AseAtomsAdaptor.get_atoms(get_phase("Li"))
        atoms.calc = get_calculator(name)
        energies[name] = atoms.get_potential_energy() / len(atoms)
    # both are trained on MPtrj PBE; for Li metal no MP2020 correction applies, so the
    # two must agree (PBE: about -1.9 eV/atom); oxides differ by CHGNet's O correction
    assert energies["sevennet"] == pytest.approx(energies["chgnet"], abs=0.05)
    assert -2.1 < energies["chgnet"] < -1.7


def test_write_through_store_persists_and_falls_back(settings):
    from ssbflow.execution.store import cached_jobstore

    plain = get_jobstore(settings)
    plain.connect()
    plain.update({"uuid": "old", "index": 1, "output": 1})
    cached = cached_jobstore(get_jobstore(settings))
    cached.connect()
    cached.update({"uuid": "new", "index": 1, "output": 2})
    cached.update({"uuid": "new", "index": 2, "output": 3})
    # reads: this run's documents from memory, older ones from the persistent store
    assert cached.get_output("new") == 3
    assert cached.get_output("new", which=1) == 2
    assert cached.get_output("old") == 1
    # writes: already in the persistent store, seen by a fresh store
    fresh = get_jobstore(settings)
    fresh.connect()
    assert fresh.get_output("new") == 3
    assert fresh.count({"uuid": "new"}) == 2


def test_tuned_gc_freezes_during_a_run_and_restores_after(settings):
    """Jobs run with the long-lived heap frozen and rarer collections; all is restored after,
    also when a job fails; garbage cycles made during the run are still collected."""
    import gc
    import weakref

    from jobflow import job

    from ssbflow.execution.runner import RUN_GC_THRESHOLD, FlowFailedError, run_flow, tuned_gc

    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    seen = {}

    @job
    def probe():
        seen["threshold"] = gc.get_threshold()
        seen["frozen"] = gc.get_freeze_count()
        return 1

    run_flow(probe(), settings, progress=False)
    assert seen["threshold"] == RUN_GC_THRESHOLD and seen["frozen"] > 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0

    @job
    def fails():
        raise ValueError("boom")

    with pytest.raises(FlowFailedError, match="boom"):
        run_flow(fails(), settings, progress=False)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0

    class Node:
        pass

    with tuned_gc():
        a, b = Node(), Node()
        a.other, b.other = b, a  # a reference cycle made while frozen
        ref = weakref.ref(a)
        del a, b
        gc.collect()
        assert ref() is None
