"""Energy and force jobs through any named calculator.

These are atomate2's ASE makers with one addition: the calculator is chosen by the
``calculator_name`` and ``calculator_kwargs`` fields (see `ssbflow.calculators`), so one
class serves CHGNet, SevenNet, EMT, GPAW or any ASE calculator. Their output is atomate2's
``AseStructureTaskDoc`` (``.structure``, ``.output.energy`` in eV, ``.is_force_converged``),
which has the same ``.structure`` / ``.output.energy`` shape as atomate2's VASP ``TaskDoc``:
flows that only read those two fields accept either kind of maker.

Fixed atoms are given by the ``selective_dynamics`` site property; pymatgen's
``AseAtomsAdaptor`` turns it into ASE ``FixAtoms``/``FixCartesian`` constraints.

The final structure is stored once, as ``.structure``: atomate2 also copies it into
``.output.mol_or_struct``, which here is ``None``. Every job that reads a document decodes
all of it, so the copy doubled the cost of passing interfaces between jobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator
from atomate2.ase.jobs import _ASE_DATA_OBJECTS, AseMaker, AseRelaxMaker
from atomate2.ase.schemas import AseStructureTaskDoc
from jobflow import job
from pymatgen.core import Structure

from ssbflow.calculators import get_calculator

#: Keep summary documents lean: per-step energies only, no per-step structures/forces.
LEAN_IONIC_STEP_DATA: tuple[str, ...] = ("energy",)


def _without_structure_copy(doc: Any) -> Any:
    """Drop atomate2's second copy of the final structure (it stays in ``doc.structure``).

    ``doc`` is an `AseStructureTaskDoc` or a list of them (atomate2's batch mode).
    """
    for one in doc if isinstance(doc, list) else [doc]:
        if one.output is not None and one.output.mol_or_struct is not None:
            one.output.mol_or_struct = None
    return doc


@dataclass
class CalcRelaxMaker(AseRelaxMaker):
    """Relax a structure with the named calculator.

    Parameters
    ----------
    name
        Job name.
    calculator_name
        Calculator name or import path (`ssbflow.calculators`).
    calculator_kwargs
        Keyword arguments for the calculator.
    relax_cell
        Relax the cell as well as the positions (bulk); ``False`` for slabs/interfaces.
    steps
        Maximum optimiser steps.
    relax_kwargs
        Passed to atomate2's ``AseRelaxer.relax``; ``fmax`` (eV/Å) is the force criterion.
    """

    name: str = "relax"
    calculator_name: str = "chgnet"
    calculator_kwargs: dict = field(default_factory=dict)
    relax_cell: bool = True
    steps: int = 500
    relax_kwargs: dict = field(default_factory=lambda: {"fmax": 0.05})
    ionic_step_data: tuple[str, ...] | None = LEAN_IONIC_STEP_DATA

    def _get_calculator(self) -> Calculator:
        return get_calculator(self.calculator_name, self.calculator_kwargs)

    @job(data=_ASE_DATA_OBJECTS)
    def make(self, structure: Structure, prev_dir: str | Path | None = None) -> AseStructureTaskDoc:
        """Relax ``structure``; atomate2's task document with the final structure once."""
        return _without_structure_copy(AseRelaxMaker.make.original(self, structure, prev_dir))


@dataclass
class CalcStaticMaker(AseMaker):
    """Single-point energy (and forces/stress) with the named calculator."""

    name: str = "static"
    calculator_name: str = "chgnet"
    calculator_kwargs: dict = field(default_factory=dict)
    ionic_step_data: tuple[str, ...] | None = LEAN_IONIC_STEP_DATA

    def _get_calculator(self) -> Calculator:
        return get_calculator(self.calculator_name, self.calculator_kwargs)

    @job(data=_ASE_DATA_OBJECTS)
    def make(self, structure: Structure, prev_dir: str | Path | None = None) -> AseStructureTaskDoc:
        """Single point on ``structure``; atomate2's task document, final structure once."""
        return _without_structure_copy(AseMaker.make.original(self, structure, prev_dir))
