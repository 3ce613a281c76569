"""Surface energy of a bulk phase on one Miller plane, from a slab series.

The flow relaxes slabs of one termination with increasing thickness (fixed cell, all
atoms free, symmetric where possible) and fits ``E(n) = n ε + 2 A γ`` against the
number of bulk units ``n``. The slope replaces a separately computed bulk energy, which
makes γ robust to drift between bulk and slab calculations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jobflow import Flow, Maker, Response, job
from pydantic import Field
from pymatgen.core import Structure

from ssbflow.analysis.adhesion import surface_energy_from_series_J_per_m2
from ssbflow.errors import InputError
from ssbflow.schemas import ResultDocument
from ssbflow.structures.slabs import check_miller, slab_series
from ssbflow.workflows.calc import CalcRelaxMaker
from ssbflow.workflows.common import provenance_for, task_energy_eV, task_failure, task_n_steps


class SurfaceEnergyDocument(ResultDocument):
    """Surface energy of one termination of one plane."""

    result_type: str = "surface_energy"
    miller: tuple[int, int, int]
    termination_index: int
    surface_energy_J_per_m2: float | None = Field(None, description="γ from the slope fit, J/m²")
    surface_energy_stderr_J_per_m2: float | None = Field(
        None, description="Standard error of γ from the fit residuals (≥3 slabs), J/m²"
    )
    bulk_energy_per_unit_eV: float | None = Field(
        None, description="Fitted slope: energy per bulk unit (atom or formula unit), eV"
    )
    unit: str = Field("atom", description="What a bulk unit is: 'atom' or 'formula unit'")
    layers: list[int] = Field(default_factory=list, description="Slab thicknesses, unit planes")
    n_units: list[float] = Field(default_factory=list, description="Bulk units per slab")
    slab_energies_eV: list[float | None] = Field(default_factory=list)
    area_A2: float | None = Field(None, description="Area of one face, Å²")
    symmetric: bool | None = None
    n_force_evaluations: int = 0
    method: str = "slope of relaxed slab energy vs bulk units (Fiorentini-Methfessel)"


@dataclass
class SurfaceEnergyMaker(Maker):
    """Surface energy from a series of relaxed slabs.

    Parameters
    ----------
    name
        Flow name.
    miller
        Miller index in the bulk cell.
    layers
        Slab thicknesses in unit planes (≥2, increasing; ≥3 gives an error estimate).
    termination_index
        Which termination (0-based, in `ssbflow.structures.slabs.generate_slabs` order).
    vacuum_A
        Vacuum, Å.
    relax_maker
        Maker that relaxes a slab at fixed cell (any maker whose output has ``.structure``
        and ``.output.energy``); ``None`` uses rigid slabs via ``static_maker``.
    tags
        Labels stored with the result.
    """

    name: str = "surface energy"
    miller: tuple[int, int, int] = (1, 0, 0)
    layers: tuple[int, ...] = (2, 3, 4)
    termination_index: int = 0
    vacuum_A: float = 15.0
    relax_maker: Maker | None = field(
        default_factory=lambda: CalcRelaxMaker(name="slab relax", relax_cell=False)
    )
    static_maker: Maker | None = None
    tags: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.miller = check_miller(self.miller)
        if len(self.layers) < 2:
            raise InputError("the slope method needs at least two slab thicknesses")
        if self.relax_maker is None and self.static_maker is None:
            raise InputError("give a relax_maker or a static_maker for the slab energies")

    @job(name="surface energy")
    def make(self, bulk: Structure) -> Response:
        """Cut the slab series from ``bulk`` and fan out one job per slab."""
        series = slab_series(
            bulk, self.miller, self.layers, self.termination_index, vacuum_A=self.vacuum_A
        )
        energy_maker = self.relax_maker or self.static_maker
        jobs = []
        for info, n in zip(series, self.layers, strict=True):
            slab = Structure.from_sites(info.slab.sites)
            j = energy_maker.make(slab)
            j.name = f"slab {''.join(map(str, self.miller))} {n} layers"
            jobs.append(j)
        comp = bulk.composition
        reduced, _factor = comp.get_reduced_composition_and_factor()
        is_element = len(comp.elements) == 1
        n_units = []
        for info in series:
            slab_comp = info.slab.composition
            if is_element:
                n_units.append(float(slab_comp.num_atoms))
            else:
                n_units.append(float(slab_comp.num_atoms / reduced.num_atoms))
        stoich = all(info.stoichiometric for info in series)
        fit = fit_surface_series(
            [j.output for j in jobs],
            n_units=n_units,
            area_A2=series[0].area_A2,
            stoichiometric=stoich,
            symmetric=all(info.symmetric for info in series),
            unit="atom" if is_element else "formula unit",
            formula=reduced.reduced_formula,
            miller=self.miller,
            layers=list(self.layers),
            termination_index=self.termination_index,
            provenance=provenance_for(
                energy_maker,
                {"miller": self.miller, "layers": list(self.layers), "vacuum_A": self.vacuum_A},
            ).model_dump(),
            tags=self.tags,
        )
        return Response(replace=Flow([*jobs, fit], output=fit.output, name=self.name))


@job(name="fit surface energy")
def fit_surface_series(
    slab_docs: list,
    n_units: list[float],
    area_A2: float,
    stoichiometric: bool,
    symmetric: bool,
    unit: str,
    formula: str,
    miller: tuple[int, int, int],
    layers: list[int],
    termination_index: int,
    provenance: dict,
    tags: list[str],
) -> SurfaceEnergyDocument:
    """Fit the slab energies; a slab that failed makes the result failed, with the reason."""
    common = {
        "system": f"{formula}{tuple(miller)}",
        "formula": formula,
        "calculator": provenance["calculator"],
        "provenance": provenance,
        "miller": tuple(miller),
        "termination_index": termination_index,
        "layers": layers,
        "n_units": n_units,
        "area_A2": area_A2,
        "symmetric": symmetric,
        "unit": unit,
        "tags": tags,
        "n_force_evaluations": sum(task_n_steps(d) for d in slab_docs),
    }
    energies = [task_energy_eV(d) for d in slab_docs]
    reasons = [
        task_failure(d, f"slab with {n} layers") for d, n in zip(slab_docs, layers, strict=True)
    ]
    reasons = [r for r in reasons if r]
    if not stoichiometric:
        reasons.append("non-stoichiometric slabs: the slope method needs stoichiometric slabs")
    if reasons:
        return SurfaceEnergyDocument(
            status="failed", failure_reason="; ".join(reasons), slab_energies_eV=energies, **common
        )
    fit = surface_energy_from_series_J_per_m2(n_units, energies, area_A2)
    warnings = [] if symmetric else ["asymmetric slabs: γ is the mean of the two faces"]
    return SurfaceEnergyDocument(
        surface_energy_J_per_m2=fit.surface_energy_J_per_m2,
        surface_energy_stderr_J_per_m2=fit.surface_energy_stderr_J_per_m2,
        bulk_energy_per_unit_eV=fit.bulk_energy_per_unit_eV,
        slab_energies_eV=energies,
        warnings=warnings,
        **common,
    )
