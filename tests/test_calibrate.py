"""``ssbflow calibrate``: statistics by hand, EMT against a Lennard-Jones stand-in, cache reuse."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from ase.build import bulk as ase_bulk
from pymatgen.io.ase import AseAtomsAdaptor

from ssbflow.analysis.calibration import (
    pairwise_order_agreement,
    relative_times,
    score_quantity,
    sign_agreement,
    spearman_rho,
)
from ssbflow.calculators import calculator_provenance, resolve_variant, variant_label
from ssbflow.errors import InputError

EV_PER_A2_TO_J_PER_M2 = 16.02176634  # e·1e20 J/m² per eV/Å²
LJ = ("lj", {"sigma": 2.3, "epsilon": 0.4, "rc": 6.0})
EMT = ("emt", {})


# ----------------------------------------------------------------------------- analysis


def test_score_by_hand():
    s = score_quantity("gamma_metal", [1.0, 2.0, 3.0], [1.5, 1.5, 4.0])
    # errors +0.5, -0.5, +1.0
    assert s.mae == pytest.approx(2.0 / 3.0)
    assert s.max_abs_error == pytest.approx(1.0)
    assert s.mean_signed_error == pytest.approx(1.0 / 3.0)
    # pairs (0,1): predicted tie -> disagree; (0,2), (1,2) agree
    assert s.pairwise_order_agreement == pytest.approx(2.0 / 3.0)
    # ranks (1,2,3) vs (1.5,1.5,3): cov 1.5, var 2 and 1.5
    assert s.spearman == pytest.approx(1.5 / math.sqrt(2.0 * 1.5))
    assert s.sign_agreement is None


def test_sign_and_order_agreement_by_hand():
    assert sign_agreement([0.2, -0.1, 0.3], [0.1, 0.2, 0.4]) == pytest.approx(2.0 / 3.0)
    assert sign_agreement([], []) is None
    assert pairwise_order_agreement([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]) == 0.0
    assert pairwise_order_agreement([1.0, 1.0], [1.0, 2.0]) is None  # no reference order
    assert spearman_rho([1.0, 2.0, 3.0], [10.0, 20.0, 30.0]) == pytest.approx(1.0)
    assert spearman_rho([1.0], [1.0]) is None
    w = score_quantity("work_of_adhesion", [0.2, -0.1], [0.1, 0.3], with_sign=True)
    assert w.sign_agreement == pytest.approx(0.5)


def test_relative_times():
    assert relative_times({"chgnet": 2.0, "sevennet": 5.0}, "chgnet") == {
        "chgnet": 1.0,
        "sevennet": 2.5,
    }
    assert relative_times({"sevennet": 5.0}, "chgnet") == {"sevennet": None}


def test_bad_statistics_input():
    with pytest.raises(ValueError):
        score_quantity("x", [], [])
    with pytest.raises(ValueError):
        score_quantity("x", [1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        score_quantity("x", [1.0], [float("nan")])


# ----------------------------------------------------------------------------- variants


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("chgnet", ("chgnet", {})),
        ("CHGNet", ("chgnet", {})),
        ("chgnet-r2scan", ("chgnet", {"model": "r2scan"})),
        ("sevennet", ("sevennet", {})),
        ("sevennet-l3i5", ("sevennet", {"model": "7net-l3i5"})),
        ("sevennet-mf-0", ("sevennet", {"model": "7net-mf-0", "modal": "PBE"})),
        ("gpaw:fast", ("gpaw", {"preset": "fast"})),
        ("emt", ("emt", {})),
    ],
)
def test_resolve_variant(text, expected):
    assert resolve_variant(text) == expected
    name, kwargs = expected
    if text.lower() != "chgnet" or text == "chgnet":
        assert resolve_variant(variant_label(name, kwargs)) == expected


def test_unknown_variant_lists_the_known_ones():
    with pytest.raises(InputError, match="chgnet-r2scan"):
        resolve_variant("chgnet-r3scan")
    with pytest.raises(InputError, match="gpaw:fast"):
        resolve_variant("gpaw:ultra")


def test_provenance_names_the_model():
    assert "0.3.0" in calculator_provenance("chgnet")["model"]
    assert "r2scan" in calculator_provenance("chgnet", {"model": "r2scan"})["model"]
    assert calculator_provenance("sevennet")["model"] == "SevenNet 7net-0"
    mf = calculator_provenance("sevennet", {"model": "7net-mf-0", "modal": "PBE"})["model"]
    assert mf == "SevenNet 7net-mf-0, modal PBE"


def test_unshipped_chgnet_model_refused():
    from ssbflow.calculators import check_calculator

    pytest.importorskip("chgnet", reason="chgnet not installed")
    with pytest.raises(InputError, match="r2scan"):
        check_calculator("chgnet", ["Li"], {"model": "0.9.9"})


# ----------------------------------------------------------------------------- calibrate


def _metal_items():
    from ssbflow.workflows.calibrate import SurfaceSpec, build_surface_item

    items = []
    for el in ("Cu", "Al"):
        bulk = AseAtomsAdaptor.get_structure(ase_bulk(el, "fcc", cubic=True))
        spec = SurfaceSpec(el, (1, 0, 0), "gamma_metal", 3.0)
        items.append(build_surface_item(spec, vacuum_A=8.0, bulk=bulk))
    return items


def _gamma_by_hand(item, name, kwargs):
    """γ from the two slabs with a fresh ASE calculator and the two-point intercept."""
    from ssbflow.calculators import get_calculator

    e, n = [], []
    for role in ("slab0", "slab1"):
        atoms = AseAtomsAdaptor.get_atoms(item.structures[role])
        atoms.calc = get_calculator(name, kwargs)
        e.append(atoms.get_potential_energy())
        n.append(item.n_units[role])
    eps = (e[1] - e[0]) / (n[1] - n[0])
    return (e[0] - n[0] * eps) / (2 * item.area_A2) * EV_PER_A2_TO_J_PER_M2


def test_emt_against_lj_mae_by_hand(tmp_path):
    from ssbflow.workflows.calibrate import calibrate

    items = _metal_items()
    result = calibrate(items, [LJ], EMT, work_dir=tmp_path, baseline=None)
    ref = [_gamma_by_hand(it, *EMT) for it in items]
    lj = [_gamma_by_hand(it, *LJ) for it in items]
    got_ref = [row["reference"]["value"] for row in result["items"]]
    got_lj = [
        row["predicted"]["lj" + json.dumps(LJ[1], sort_keys=True)]["value"]
        for row in result["items"]
    ]
    assert got_ref == pytest.approx(ref, rel=1e-6)
    assert got_lj == pytest.approx(lj, rel=1e-6)
    # EMT's Cu(100) and Al(100) surface energies are positive and differ
    assert ref[0] > 0 and ref[1] > 0 and abs(ref[0] - ref[1]) > 0.05
    (label,) = result["potentials"]
    score = result["potentials"][label]["scores"]["gamma_metal"]
    assert score["n"] == 2
    assert score["mae"] == pytest.approx(np.mean(np.abs(np.subtract(lj, ref))), rel=1e-6)
    assert score["max_abs_error"] == pytest.approx(np.max(np.abs(np.subtract(lj, ref))), rel=1e-6)
    assert score["mean_signed_error"] == pytest.approx(np.mean(np.subtract(lj, ref)), rel=1e-6)
    expected_order = 1.0 if (lj[0] - lj[1]) * (ref[0] - ref[1]) > 0 else 0.0
    assert score["pairwise_order_agreement"] == expected_order
    assert result["potentials"][label]["scores"]["work_of_adhesion"] is None
    assert result["reference"]["n_single_points_computed"] == 4
    assert result["warnings"] == []


def test_reference_energies_reused_from_the_store(settings, tmp_path):
    from ssbflow.workflows.calibrate import EnergyCache, calibrate

    items = _metal_items()
    cache = EnergyCache.from_settings(settings)
    first = calibrate(items, [LJ], EMT, cache=cache, work_dir=tmp_path)
    cache.close()
    assert first["reference"]["n_single_points_computed"] == 4
    assert first["reference"]["n_single_points_cached"] == 0
    # a second potential in a new process-level cache object: no reference recomputed
    cache = EnergyCache.from_settings(settings)
    lj2 = ("lj", {"sigma": 2.2, "epsilon": 0.3, "rc": 6.0})
    second = calibrate(items, [lj2], EMT, cache=cache, work_dir=tmp_path)
    assert second["reference"]["n_single_points_computed"] == 0
    assert second["reference"]["n_single_points_cached"] == 4
    assert [r["reference"]["value"] for r in second["items"]] == [
        r["reference"]["value"] for r in first["items"]
    ]
    # other reference settings are other keys: computed again
    third = calibrate(items, [lj2], ("emt", {"asap_cutoff": True}), cache=cache, work_dir=tmp_path)
    assert third["reference"]["n_single_points_computed"] == 4
    # stored energies only: the stored EMT set is complete, an unknown setting is not
    fourth = calibrate(items, [lj2], EMT, cache=cache, reference_stored_only=True)
    assert fourth["reference"]["n_single_points_cached"] == 4
    assert fourth["potentials"][variant_label(*lj2)]["scores"]["gamma_metal"]["n"] == 2
    lj3 = ("lj", {"sigma": 2.0})
    fifth = calibrate(items, [lj2], lj3, cache=cache, reference_stored_only=True)
    assert fifth["reference"]["n_single_points_computed"] == 0
    assert all(r["reference"]["status"] == "failed" for r in fifth["items"])
    assert "not computed" in fifth["items"][0]["reference"]["failure_reason"]
    assert fifth["potentials"][variant_label(*lj2)]["scores"]["gamma_metal"] is None
    cache.close()


def test_time_limit_stops_a_calculation():
    import time

    from ssbflow.workflows.calibrate import _time_limit, _TimeLimitError

    with pytest.raises(_TimeLimitError, match="time limit"), _time_limit(0.2):
        time.sleep(5)
    with _time_limit(None):  # no limit
        pass


def test_failed_potential_is_reported_not_scored(tmp_path):
    from ssbflow.workflows.calibrate import calibrate

    items = _metal_items()
    broken = ("ase.calculators.no_such_module:Nothing", {})
    result = calibrate(items, [broken], EMT, work_dir=tmp_path)
    (label,) = result["potentials"]
    assert all(r["predicted"][label]["status"] == "failed" for r in result["items"])
    assert all(r["predicted"][label]["value"] is None for r in result["items"])
    assert result["potentials"][label]["scores"]["gamma_metal"] is None
    assert len(result["warnings"]) == 2


def test_empty_set_and_duplicate_calculators_refused(tmp_path):
    from ssbflow.workflows.calibrate import calibrate

    with pytest.raises(InputError, match="empty"):
        calibrate([], [LJ], EMT)
    with pytest.raises(InputError, match="twice"):
        calibrate(_metal_items(), [LJ, LJ], EMT)


# ----------------------------------------------------------------------------- CLI


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--calculators", "chgnet,nonsense"], "nonsense"),
        (["--calculators", ","], "empty"),
        (["--reference", "gpaw:ultra"], "gpaw:ultra"),
        (["--gaps", "2.0,2.5"], "at least 4"),
        (["--gaps", "abc"], "not a list"),
    ],
)
def test_cli_bad_input_one_line_exit_2(run_cli, args, text):
    code, out, err = run_cli("calibrate", *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ssbflow: error:")
    assert text in lines[0]
    assert "Traceback" not in err
    assert out == ""


def test_cli_bad_input_json(run_cli):
    code, out, _err = run_cli("calibrate", "--calculators", "nonsense", "--json")
    assert code == 2
    payload = json.loads(out)
    assert payload["exit_code"] == 2 and "nonsense" in payload["error"]


def test_chgnet_r2scan_model_is_loaded():
    """The r2SCAN model is another model: its Li energy is ~0.5 eV/atom lower than 0.3.0's."""
    pytest.importorskip("chgnet", reason="chgnet not installed")
    from ssbflow.calculators import get_calculator

    energies = {}
    for kwargs in ({}, {"model": "r2scan"}):
        atoms = ase_bulk("Li", "bcc", a=3.44)
        atoms.calc = get_calculator("chgnet", {"use_device": "cpu", **kwargs})
        energies[bool(kwargs)] = atoms.get_potential_energy()
    # MP-r2SCAN total energies are shifted well below PBE's for Li (both models shipped)
    assert energies[True] < energies[False] - 0.3


def test_sevennet_mf_heads_differ():
    """SevenNet-MF-0: the PBE and R2SCAN heads give different energies for the same atoms."""
    pytest.importorskip("sevenn", reason="sevenn not installed")
    from ssbflow.calculators import get_calculator

    energies = []
    for modal in ("PBE", "R2SCAN"):
        atoms = ase_bulk("Li", "bcc", a=3.44)
        atoms.calc = get_calculator(
            "sevennet", {"model": "7net-mf-0", "modal": modal, "device": "cpu"}
        )
        energies.append(atoms.get_potential_energy())
    assert abs(energies[0] - energies[1]) > 0.1


def test_gpaw_reference_writes_into_its_folder_without_chdir(tmp_path, monkeypatch):
    """A file-writing reference (GPAW) writes each structure's output into its own folder
    under ``work_dir``; the process's working directory is never changed."""
    pytest.importorskip("gpaw", reason="GPAW is in the dft extra")
    import os

    from pymatgen.core import Lattice, Structure

    from ssbflow.workflows.calibrate import compute_energies

    monkeypatch.chdir(tmp_path)
    li = Structure(Lattice.cubic(3.44), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    kwargs = {"preset": "fast", "kpts": [2, 2, 2], "ecut_eV": 200.0}
    run = compute_energies("gpaw:fast", "gpaw", kwargs, {"li": li}, work_dir=tmp_path / "runs")
    assert os.getcwd() == str(tmp_path)
    assert run.failures == {} and np.isfinite(run.energies_eV["li"])
    (folder,) = (tmp_path / "runs").iterdir()
    assert (folder / "gpaw.txt").is_file() and not (tmp_path / "gpaw.txt").exists()
