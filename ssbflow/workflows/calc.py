"""Energy and force jobs through any named calculator.

These are atomate2's ASE makers with one addition: the calculator is chosen by the
``calculator_name`` and ``calculator_kwargs`` fields (see `ssbflow.calculators`), so one
class serves CHGNet, SevenNet, EMT, GPAW or any ASE calculator. Their output is atomate2's
``AseStructureTaskDoc`` (``.structure``, ``.output.energy`` in eV, ``.is_force_converged``),
which has the same ``.structure`` / ``.output.energy`` shape as atomate2's VASP ``TaskDoc``:
flows that only read those two fields accept either kind of maker.

Fixed atoms are given by the ``selective_dynamics`` site property; pymatgen's
``AseAtomsAdaptor`` turns it into ASE ``FixAtoms``/``FixCartesian`` constraints.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ase.calculators.calculator import Calculator
from atomate2.ase.jobs import AseMaker, AseRelaxMaker

from ssbflow.calculators import get_calculator

#: Keep summary documents lean: per-step energies only, no per-step structures/forces.
LEAN_IONIC_STEP_DATA: tuple[str, ...] = ("energy",)


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


@dataclass
class CalcStaticMaker(AseMaker):
    """Single-point energy (and forces/stress) with the named calculator."""

    name: str = "static"
    calculator_name: str = "chgnet"
    calculator_kwargs: dict = field(default_factory=dict)
    ionic_step_data: tuple[str, ...] | None = LEAN_IONIC_STEP_DATA

    def _get_calculator(self) -> Calculator:
        return get_calculator(self.calculator_name, self.calculator_kwargs)
