"""Small jobflow jobs for the FireWorks tests (imported by worker subprocesses too).

The jobs return `ResultDocument`s so that ``ssbflow results`` lists them; their behaviour
is steered by marker files, which a test can create or remove from another process.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from jobflow import Flow, job
from pymatgen.core import Lattice, Structure

from ssbflow.schemas import Provenance, ResultDocument


class MarkerResult(ResultDocument):
    """A test result: ``energy_eV`` is ``2 * value`` (hand-checkable)."""

    energy_eV: float
    n_atoms: int


def _result(value: float, system: str) -> MarkerResult:
    cu = Structure(
        Lattice.cubic(3.61), ["Cu"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    )
    return MarkerResult(
        result_type="fwtest",
        system=system,
        formula="Cu",
        calculator="emt",
        provenance=Provenance.from_calculator("emt"),
        structures={"bulk": cu},
        energy_eV=2.0 * value,
        n_atoms=len(cu),
    )


@job
def fail_while_marker(marker: str, value: float, system: str = "Cu/fail") -> MarkerResult:
    """Raise while the file ``marker`` exists; else return ``2 * value`` eV."""
    if Path(marker).exists():
        raise RuntimeError(f"marker file {marker} exists")
    return _result(value, system)


@job
def block_while_marker(
    started: str, block: str, value: float, system: str = "Cu/block"
) -> MarkerResult:
    """Write ``started`` (this pid), wait while ``block`` exists, return ``2 * value`` eV."""
    Path(started).write_text(str(os.getpid()))
    while Path(block).exists():
        time.sleep(0.05)
    return _result(value, system)


def submit_main(argv: list[str]) -> None:
    """Submit one test flow (``KIND ARGS...``) to the configured LaunchPad."""
    from ssbflow.execution.fw import submit_flow
    from ssbflow.settings import get_settings

    kind, *args = argv
    if kind == "fail":
        flow = Flow([fail_while_marker(args[0], float(args[1]))], name="fail-flow")
    elif kind == "block":
        flow = Flow([block_while_marker(args[0], args[1], float(args[2]))], name="block-flow")
    elif kind == "pair":
        first = fail_while_marker(args[0], float(args[1]), system="Cu/first")
        second = fail_while_marker(args[0], float(args[2]), system="Cu/second")
        flow = Flow([first, second], name="pair-flow")
    else:
        raise SystemExit(f"unknown kind {kind}")
    submit_flow(flow, get_settings())
