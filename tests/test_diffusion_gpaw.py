"""AIMD through the diffusion flow with GPAW (short; the DFT path of every flow)."""

from __future__ import annotations

import importlib.util

import pytest
from pymatgen.core import Lattice, Structure

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("gpaw") is None,
        reason="GPAW not installed (pip install 'ssbflow[dft]')",
    ),
]


def test_gpaw_aimd_runs_through_the_flow_and_fails_honestly(settings, jobstore):
    """A few femtoseconds of GPAW MD: real DFT forces go through the flow, and a ladder
    far too short to diffuse is stored as failed with its reason, never as a number."""
    from ssbflow.execution.runner import run_flow
    from ssbflow.workflows.diffusion import DiffusionMaker

    li = Structure(Lattice.cubic(3.44), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    maker = DiffusionMaker(
        calculator_name="gpaw",
        calculator_kwargs={"preset": "fast", "kpts": [2, 2, 2]},
        temperatures_K=(600.0, 900.0),
        duration_ps=0.062,
        equilibration_ps=0.0,
        time_step_fs=2.0,
        sample_interval_fs=2.0,
        supercell_min_length_A=3.0,
        relax_maker=None,
        progress_percent=None,
    )
    flow = maker.make(li, "Li")
    run_flow(flow, settings, progress=False)
    runs = list(jobstore.query({"output.stage": "production"}))
    assert len(runs) == 2
    doc = jobstore.query_one({"output.result_type": "diffusion"}, load=True)["output"]
    assert doc["calculator"] == "gpaw"
    assert doc["provenance"]["level_of_theory"].startswith("DFT (GPAW")
    assert doc["status"] == "failed"
    assert "temperature" in doc["failure_reason"].lower()
    assert doc["activation_energy_eV"] is None
