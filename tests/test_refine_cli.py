"""``ssbflow adhesion --refine`` (issue #12): options, the ML-vs-DFT output, a real GPAW run.

The option handling and the output are tested with EMT as the ML potential and, for the
DFT level, EMT plus a fixed energy on every interface cell (`OffsetEMT`): the DFT W_ad is
then the ML W_ad minus offset/A exactly, and the surface energies are the ML ones, so every
refined number is known by hand. One study runs GPAW for real (Li on LiF(100), ``fast``).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import time
from pathlib import Path

import pytest
from ase.calculators.calculator import all_changes
from ase.calculators.emt import EMT
from pymatgen.core import Lattice, Structure

#: eV/Å² -> J/m² (1 eV = 1.602176634e-19 J exactly, 1 Å² = 1e-20 m²)
EV_PER_A2 = 16.02176634

HAS_GPAW = importlib.util.find_spec("gpaw") is not None
needs_gpaw = pytest.mark.skipif(not HAS_GPAW, reason="gpaw not installed (the dft extra)")


class OffsetEMT(EMT):
    """EMT + ``offset_eV`` on cells holding more than one element (the interfaces)."""

    def __init__(self, offset_eV: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.offset_eV = offset_eV

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        if len(set(self.atoms.get_chemical_symbols())) > 1:
            for key in ("energy", "free_energy"):
                self.results[key] = self.results[key] + self.offset_eV


OFFSET_EV = 50.0


@pytest.fixture
def metals(tmp_path: Path, monkeypatch) -> list[str]:
    """Ag (metal) and Cu (its substrate) as CIF files; tests/ importable for OffsetEMT."""
    Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.09), ["Ag"], [[0, 0, 0]]).to(
        filename=str(tmp_path / "ag.cif")
    )
    Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.61), ["Cu"], [[0, 0, 0]]).to(
        filename=str(tmp_path / "cu.cif")
    )
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent))
    return [
        "ag.cif",
        "cu.cif",
        "--metal-miller",
        "1,1,1",
        "--electrolyte-miller",
        "1,1,1",
        "--calculator",
        "emt",
        "--max-area",
        "100",
        "--max-atoms",
        "200",
        "--no-stability",
    ]


@pytest.fixture
def captured(monkeypatch) -> list:
    """Replace running the flow: the built flow is kept here and nothing runs."""
    import ssbflow.commands.adhesion as command

    flows: list = []

    def keep(_ctx, flow, _settings, *args, **kwargs):
        flows.append(flow)
        return None  # as when submitted

    monkeypatch.setattr(command, "run_command_flow", keep)
    return flows


def _refine_maker(flow):
    """The `RefineMaker` the refinement job was built from (the job takes its sub-makers
    and scalars, not the maker)."""
    from ssbflow.workflows.refine import RefineMaker

    last = flow.jobs[-1]
    assert last.name == "dft refinement"
    return RefineMaker(name=last.name, **last.function_kwargs)


# --------------------------------------------------------------------------------------
# options -> RefineMaker


@needs_gpaw
@pytest.mark.parametrize(
    ("args", "preset", "top_k", "relaxed"),
    [
        (["--refine", "gpaw"], "standard", 2, False),
        (["--refine", "gpaw:fast", "--refine-top", "1"], "fast", 1, False),
        (["--refine", " GPAW:Accurate ", "--refine-relax"], "accurate", 2, True),
    ],
)
def test_refine_options_build_the_gpaw_refinement(
    args, preset, top_k, relaxed, metals, captured, run_cli
):
    code, _out, err = run_cli("adhesion", *metals, *args)
    assert code == 0, err
    (flow,) = captured
    maker = _refine_maker(flow)
    assert maker.top_k == top_k
    assert maker.static_maker.calculator_name == "gpaw"
    assert maker.static_maker.calculator_kwargs == {"preset": preset}
    if relaxed:
        assert maker.relax_maker.calculator_name == "gpaw"
        assert maker.relax_maker.calculator_kwargs == {"preset": preset}
        assert maker.relax_maker.relax_cell is False  # fixed cell, from the ML geometry
    else:
        assert maker.relax_maker is None
    # the ML summary stays in the flow, right before the refinement
    assert flow.jobs[-2].name == "adhesion summary"


def test_without_refine_the_summary_is_last(metals, captured, run_cli):
    code, _out, err = run_cli("adhesion", *metals)
    assert code == 0, err
    (flow,) = captured
    assert flow.jobs[-1].name == "adhesion summary"
    assert all("refine" not in j.name for j in flow.jobs)


def test_submit_refine_vasp_dry_run(metals, run_cli):
    """``ssbflow submit adhesion`` reuses the command: the VASP refinement is planned (VASP
    is not needed on the submitting machine) and nothing is stored."""
    code, out, err = run_cli(
        "submit",
        "adhesion",
        *metals,
        "--refine",
        "vasp",
        "--refine-top",
        "1",
        "--dry-run",
        "--json",
    )
    assert code == 0, err
    plan = json.loads(out)
    assert plan["dry_run"] is True
    names = [j["name"] for j in plan["jobs"]]
    assert names[-2:] == ["adhesion summary", "dft refinement"]
    assert "adhesion summary" in plan["jobs"][-1]["after"]


def test_submit_builds_the_vasp_refine_maker(metals, captured, run_cli):
    from atomate2.vasp.jobs.core import StaticMaker

    code, _out, err = run_cli("submit", "adhesion", *metals, "--refine", "vasp:PBE")
    assert code == 0, err
    maker = _refine_maker(captured[0])
    assert isinstance(maker.static_maker, StaticMaker)
    assert isinstance(maker.bulk_static_maker, StaticMaker)
    assert maker.top_k == 2 and maker.relax_maker is None


@pytest.mark.skipif(shutil.which("vasp_std") is not None, reason="VASP is installed here")
def test_local_vasp_refinement_without_vasp_is_refused(metals, run_cli, isolated_ssbflow):
    code, out, err = run_cli("adhesion", *metals, "--refine", "vasp", "--json")
    assert code == 2
    (line,) = err.strip().splitlines()
    assert "VASP executable" in line and "ssbflow submit adhesion" in line
    assert json.loads(out)["field"] == "--refine"
    assert not (isolated_ssbflow / "results").exists() or not any(
        (isolated_ssbflow / "results").iterdir()
    )


@needs_gpaw
def test_gpaw_without_setups_is_refused_before_anything_runs(metals, run_cli, monkeypatch):
    """The DFT code is checked for the study's elements up front (here: no setups at all)."""
    import gpaw

    monkeypatch.setattr(gpaw, "setup_paths", [])
    monkeypatch.setenv("GPAW_SETUP_PATH", "")
    code, out, err = run_cli("adhesion", *metals, "--refine", "gpaw:fast", "--json")
    assert code == 2, err
    (line,) = err.strip().splitlines()
    assert line.startswith("ssbflow: error: --refine gpaw:fast: GPAW has no")
    assert json.loads(out)["field"] == "--refine"


# --------------------------------------------------------------------------------------
# the refined study end to end: JSON numbers by hand, table, warnings


@needs_gpaw  # --refine gpaw checks GPAW's setups for Ag and Cu before the stand-in runs
def test_refined_study_json_and_table(metals, run_cli, monkeypatch, settings, capsys):
    import ssbflow.workflows.refine as refine
    from ssbflow.workflows.calc import CalcStaticMaker

    asked = []

    def stand_in(spec, top_k=2, relax=False):
        asked.append((spec, top_k, relax))
        return refine.RefineMaker(
            top_k=top_k,
            static_maker=CalcStaticMaker(
                name="dft single point",
                calculator_name="test_refine_cli:OffsetEMT",
                calculator_kwargs={"offset_eV": OFFSET_EV},
            ),
            level_of_theory="EMT + interface offset (DFT stand-in)",
        )

    monkeypatch.setattr(refine, "refine_maker_for", stand_in)
    code, out, err = run_cli(
        "adhesion", *metals, "--n-relax", "2", "--refine", "gpaw:fast", "--refine-top", "2",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    assert asked == [(refine.RefineSpec("gpaw", "fast"), 2, False)]
    assert out.count("\n") == 1
    doc = json.loads(out)
    # every key of the ML summary is still there, plus the two new ones
    from ssbflow.commands.adhesion import adhesion_summary_json

    assert set(adhesion_summary_json({}, "u")) == set(doc)
    assert doc["headline_level_of_theory"] == "EMT + interface offset (DFT stand-in)"
    block = doc["refinement"]
    assert block["level_of_theory"] == doc["headline_level_of_theory"]
    assert block["top_k"] == 2 and block["relaxed"] is False
    assert "emt" in (block["ml_level_of_theory"] or "").lower()
    by_label = {c["label"]: c for c in doc["candidates"]}
    refined = block["candidates"]
    assert len(refined) == 2
    for c in refined:
        assert c["status"] == "refined", c
        ml_cand = by_label[c["label"]]
        assert ml_cand["status"] == "relaxed"
        # the ML column is the ML candidate
        assert c["ml"]["work_of_adhesion_J_per_m2"] == ml_cand["work_of_adhesion_J_per_m2"]
        # DFT = same structures, interface energy + 50 eV: W_ad lower by 50 eV / A
        area = next(
            cc["area_A2"]
            for cc in _stored_candidates(settings, doc["uuid"])
            if cc["label"] == c["label"]
        )
        expected = ml_cand["work_of_adhesion_J_per_m2"] - OFFSET_EV / area * EV_PER_A2
        assert c["dft"]["work_of_adhesion_J_per_m2"] == pytest.approx(expected, abs=1e-6)
        assert c["dft"]["work_of_adhesion_J_per_m2"] < 0 < ml_cand["work_of_adhesion_J_per_m2"]
        # surface energies: single points of the ML slabs and bulks, same energies
        for key in ("metal_surface_energy_J_per_m2", "electrolyte_surface_energy_J_per_m2"):
            assert c["dft"][key] == pytest.approx(c["ml"][key], abs=1e-6)
        # Young-Dupré: W_ad < 0 -> cos θ clipped at -1
        assert c["dft"]["contact_angle_deg"] == pytest.approx(180.0)
        assert c["dft"]["wetting"] == "non-wetting"
        gm, gf = (
            c["dft"]["metal_surface_energy_J_per_m2"],
            c["dft"]["electrolyte_surface_energy_J_per_m2"],
        )
        assert c["dft"]["interface_energy_J_per_m2"] == pytest.approx(
            gm + gf - c["dft"]["work_of_adhesion_J_per_m2"], rel=1e-9
        )
    # the headline is the DFT level's
    chosen = next(c for c in refined if c["label"] == doc["selected_label"])
    assert doc["work_of_adhesion_J_per_m2"] == chosen["dft"]["work_of_adhesion_J_per_m2"]
    assert doc["interface_energy_J_per_m2"] == chosen["dft"]["interface_energy_J_per_m2"]
    assert doc["wetting"] == "non-wetting"
    # the sign change is said, per candidate, in the warnings
    for c in refined:
        assert any(c["label"] in w and "W_ad changes sign" in w for w in block["disagreements"]), (
            block["disagreements"]
        )
    assert set(block["disagreements"]) <= {w.removeprefix("ML vs DFT: ") for w in doc["warnings"]}
    # 3 per candidate + the surface series' slabs + 2 bulks
    n_series = sum(len(s["thicknesses_A"]) for s in block["surface_series"])
    assert block["n_dft_single_points"] == 3 * 2 + n_series + 2

    # the table: ML and DFT rows side by side, the headline's level, the warnings
    monkeypatch.setenv("COLUMNS", "250")
    from ssbflow.commands._common import load_output
    from ssbflow.commands.adhesion import _print_table

    capsys.readouterr()
    _print_table(load_output(settings, doc["uuid"]), doc["uuid"], [])
    text = capsys.readouterr().out
    assert "level of theory of the headline numbers: EMT + interface offset" in text
    assert "DFT refinement of the top 2 ML candidates" in text
    for c in refined:
        row_ml = next(r for r in text.splitlines() if c["label"] in r and " ML " in r)
        assert f"{c['ml']['work_of_adhesion_J_per_m2']:.3f}" in row_ml
        dft_rows = [r for r in text.splitlines() if re.search(r"│\s*DFT\s*│", r)]
        assert any(f"{c['dft']['work_of_adhesion_J_per_m2']:.3f}" in r for r in dft_rows)
    warned = [r for r in text.splitlines() if r.startswith("warning:")]
    assert sum("W_ad changes sign" in w for w in warned) == 2


@needs_gpaw
def test_a_refinement_that_breaks_keeps_the_ml_result(metals, run_cli, monkeypatch):
    """The refined summary is never made (a bug in the merge): the ML summary is printed,
    with a warning that says so, and the exit code is 1."""
    from jobflow import job

    import ssbflow.workflows.refine as refine
    from ssbflow.workflows.calc import CalcStaticMaker

    @job
    def broken_merge(*_args, **_kwargs):
        raise RuntimeError("synthetic merge failure")

    monkeypatch.setattr(refine, "merge_refinement", broken_merge)
    monkeypatch.setattr(
        refine,
        "refine_maker_for",
        lambda spec, top_k=2, relax=False: refine.RefineMaker(
            top_k=top_k,
            static_maker=CalcStaticMaker(
                calculator_name="test_refine_cli:OffsetEMT", calculator_kwargs={}
            ),
        ),
    )
    code, out, err = run_cli(
        "adhesion", *metals, "--refine", "gpaw:fast", "--refine-top", "1", "--json"
    )
    assert code == 1
    (line,) = err.strip().splitlines()
    assert line.startswith("ssbflow: error: the DFT refinement did not finish")
    assert out.count("\n") == 1
    doc = json.loads(out)
    assert doc["refinement"] is None
    assert doc["headline_level_of_theory"] == "empirical potential (EMT)"
    assert doc["work_of_adhesion_J_per_m2"] > 0  # the ML number, still there
    assert any("DFT refinement did not finish" in w for w in doc["warnings"])


def _stored_candidates(settings, uuid: str) -> list[dict]:
    from ssbflow.commands._common import load_output

    return load_output(settings, uuid)["candidates"]


# --------------------------------------------------------------------------------------
# one real GPAW refinement


#: The smallest Li/LiF(100) study: Li(110) on LiF(100), 2 Li planes on 1 LiF unit plane,
#: 12 atoms in a 2.85 Å × 5.70 Å cell (3.5 % strain), one registry, one candidate refined.
LI_LIF_SMALL = [
    "Li", "LiF", "--metal-miller", "1,1,0", "--electrolyte-miller", "1,0,0",
    "--max-strain", "0.2", "--max-atoms", "20", "--metal-layers", "2",
    "--electrolyte-layers", "1", "--registry-grid", "1", "--n-relax", "1",
    "--refine", "gpaw:fast", "--refine-top", "1", "--no-stability",
]  # fmt: skip


@needs_gpaw
@pytest.mark.slow
@pytest.mark.gpaw
def test_gpaw_refinement_of_li_on_lif(run_cli, tmp_path, monkeypatch):
    """Li on LiF(100): CHGNet, then GPAW PBE (fast) single points of the best candidate.

    ``--refine`` takes only a preset, so to keep CI short the test coarsens the k-point
    spacing of the maker the CLI builds (0.30 -> 0.45 Å⁻¹): the surface-energy slabs, small
    cells with dense meshes, were most of the DFT time (17 min on 2 loaded cores with the
    preset's mesh).
    """
    pytest.importorskip("chgnet")
    import ssbflow.workflows.refine as refine

    built = refine.refine_maker_for

    def coarser(spec, top_k=2, relax=False):
        maker = built(spec, top_k, relax)
        assert maker.static_maker.calculator_kwargs == {"preset": "fast"}  # from --refine
        maker.static_maker.calculator_kwargs = {"preset": "fast", "kpoint_spacing_per_A": 0.45}
        return maker

    monkeypatch.setattr(refine, "refine_maker_for", coarser)
    t0 = time.perf_counter()
    code, out, err = run_cli("adhesion", *LI_LIF_SMALL, "--json")
    wall = time.perf_counter() - t0
    assert code == 0, err
    doc = json.loads(out)
    (tmp_path / "refined.json").write_text(out)
    print(f"refined Li/LiF study: {wall:.0f} s")
    block = doc["refinement"]
    assert (
        doc["headline_level_of_theory"]
        == block["level_of_theory"]
        == "DFT (GPAW, PBE, fast preset)"
    )
    assert "chgnet" in block["ml_level_of_theory"].lower()
    assert block["provenance"]["calculator"] == "gpaw"
    (c,) = block["candidates"]
    assert c["status"] == "refined", c
    w_dft = c["dft"]["work_of_adhesion_J_per_m2"]
    assert doc["work_of_adhesion_J_per_m2"] == w_dft
    # PBE surface energies, thin slabs at the fast preset: Li(110) ≈ 0.5 J/m², LiF(100)
    # ≈ 0.35 J/m² (the ML values are 0.3-0.4)
    assert 0.3 < c["dft"]["metal_surface_energy_J_per_m2"] < 0.7
    assert 0.1 < c["dft"]["electrolyte_surface_energy_J_per_m2"] < 0.6
    gm, gf = (
        c["dft"]["metal_surface_energy_J_per_m2"],
        c["dft"]["electrolyte_surface_energy_J_per_m2"],
    )
    assert c["dft"]["interface_energy_J_per_m2"] == pytest.approx(gm + gf - w_dft, rel=1e-9)
    # one interface, two slabs, the two surface-energy series, two bulks
    n_series = sum(len(s["thicknesses_A"]) for s in block["surface_series"])
    assert block["n_dft_single_points"] == 3 + n_series + 2
    # a sign change between the levels is warned about, and only then
    w_ml = c["ml"]["work_of_adhesion_J_per_m2"]
    said = any("W_ad changes sign" in w for w in doc["warnings"])
    assert said == ((w_ml > 0) != (w_dft > 0))
