"""Does the electrolyte survive the metal? Phase diagram, reaction energy and window.

One flow per metal/electrolyte pair::

    every library phase of the metal-electrolyte chemical system (elements included)
      -> one relaxation each, all with the same calculator (primitive cells; molecules
         at fixed box)
      -> summarize_stability: pymatgen PhaseDiagram of PDEntry(total energies)
         -> energy above hull of the electrolyte
         -> InterfacialReactivity(electrolyte, metal): most negative reaction energy,
            mixing ratio, products; products at the metal-rich limit
         -> grand-potential element profile with the metal open: reduction and oxidation
            limits vs M/M+
         -> interphase class from the products' ionic/electronic character
            (ssbflow/data/interphase_characters.yaml)
      -> StabilityDocument (result_type "stability")

Thermodynamics only: no kinetics, no interface structure, 0 K total energies (no
entropy, no zero-point energy) from the chosen calculator. The window is an outer bound
whenever the library lacks a competing phase (listed in ``missing_phases``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from jobflow import Flow, Maker, OnMissing, job
from pydantic import BaseModel, Field
from pymatgen.core import Composition, Structure

from ssbflow.analysis.stability import (
    INTERPHASE_CLASSES,
    PhaseEnergy,
    analyse_stability,
    build_phase_diagram,
    classify_interphase,
)
from ssbflow.calculators import check_calculator
from ssbflow.errors import InputError
from ssbflow.schemas import ResultDocument
from ssbflow.workflows.calc import CalcRelaxMaker
from ssbflow.workflows.common import provenance_for, task_energy_eV, task_failure

__all__ = [
    "KNOWN_MISSING_PHASES",
    "StabilityBlock",
    "StabilityDocument",
    "StabilityMaker",
    "interphase_characters",
    "system_phases",
]

#: Phases that the published phase diagrams of these systems hold but the library does
#: not (no crystallographic data could be sourced while it was written). Each makes the
#: window an outer bound on that side.
KNOWN_MISSING_PHASES: dict[frozenset[str], list[str]] = {
    frozenset({"Li", "P"}): ["LiP", "Li3P7", "LiP5", "LiP7"],
    frozenset({"P", "S"}): ["P2S5 (P4S10)", "P4S3", "P4S7"],
    frozenset({"Li", "P", "S"}): ["gamma-Li3PS4", "Li7PS6"],
    frozenset({"Li", "Zr", "O"}): ["Li8ZrO6"],
    frozenset({"Zr", "O"}): ["Zr3O (metallic suboxide; Zhu et al.'s LLZO reduction product)"],
    frozenset({"Li", "O"}): ["LiO2"],
    frozenset({"Li", "S"}): ["Li2S2 (not a stable bulk phase)"],
    frozenset({"Li", "P", "S", "Cl"}): ["LiPSCl variants"],
    frozenset({"Na", "P"}): ["NaP", "Na3P11"],
    frozenset({"Na", "P", "S"}): ["Na4P2S6", "Na4P2S7"],
}

ENERGY_NOTE = {
    "chgnet": (
        "CHGNet is trained on Materials Project GGA/GGA+U energies (MPtrj) on the MP2020 "
        "compatibility scale: fitted anion corrections (oxide, peroxide, sulfide, nitride, "
        "halide) are part of its compound energies but not of the elements, and GGA+U "
        "applies only to V/Cr/Mn/Fe/Co/Ni/W/Mo oxides and fluorides (none here, so these "
        "energies are plain GGA plus anion corrections). No further correction is applied. "
        "Formation energies of ML potentials are least reliable where the correction does the "
        "work (oxides, sulfides, nitrides, halides vs the O2/N2/F2/Cl2 molecules and S8), "
        "for vdW-bound elements (S8, black P, graphite) and for gas references; errors of "
        "20-50 meV/atom shift the limits by ~0.1-0.3 V"
    ),
    "sevennet": (
        "SevenNet is trained on MPtrj (MP GGA/GGA+U with the MP2020 anion corrections as in "
        "the training labels); same caveats as CHGNet: formation energies of oxides/sulfides/"
        "halides against the molecular gas references are the weak point"
    ),
}


class StabilityBlock(BaseModel):
    """Compact stability result for one metal/electrolyte pair (for other summaries)."""

    stability_uuid: str | None = Field(None, description="uuid of the stability job")
    status: str = "successful"
    calculator: str | None = None
    reaction_energy_eV_per_atom: float | None = Field(
        None, description="Most negative reaction energy of metal + electrolyte, eV/atom"
    )
    mixing_ratio: float | None = Field(
        None, description="Atom fraction of electrolyte in the mixture at that minimum"
    )
    products: list[str] = Field(
        default_factory=list, description="Phases in equilibrium with the metal"
    )
    reduction_limit_V: float | None = None
    interphase_class: str | None = None


class StabilityDocument(ResultDocument):
    """Thermodynamic stability of an electrolyte against a metal (result_type "stability").

    Energies in eV (per atom where named), voltages in V vs M/M+.
    """

    result_type: str = "stability"
    metal: str = Field(..., description="Element symbol of the metal")
    electrolyte: str = Field(..., description="Library name of the electrolyte")
    chemical_system: str = Field(..., description="e.g. 'Li-P-S'")
    energy_above_hull_eV_per_atom: float | None = None
    decomposition: dict[str, float] = Field(
        default_factory=dict, description="Hull phases of the electrolyte's composition"
    )
    reaction_energy_eV_per_atom: float | None = Field(
        None,
        description="Most negative reaction energy of metal + electrolyte, eV per atom of "
        "mixture, measured from the hull energy of the electrolyte's composition (a "
        "metastable electrolyte's own decomposition is energy_above_hull; 0: no reaction)",
    )
    mixing_ratio: float | None = Field(
        None, description="Atom fraction of the electrolyte in the mixture at the minimum"
    )
    reaction: str | None = Field(None, description="Reaction at the minimum (per atom)")
    reacts_with_metal: bool | None = None
    products_at_minimum: list[str] = Field(default_factory=list)
    products: list[str] = Field(
        default_factory=list,
        description="Phases in equilibrium with the metal (metal-rich limit), metal excluded",
    )
    reaction_curve: list[list[float]] = Field(
        default_factory=list, description="Kinks (x_electrolyte, reaction energy eV/atom)"
    )
    reduction_limit_V: float | None = Field(None, description="vs M/M+; 0: stable to plating")
    reduction_onset_V: float | None = Field(
        None,
        description="Signed voltage of the first reduction (negative: below plating, i.e. "
        "not reduced by the metal); None: nothing above -1 V",
    )
    oxidation_limit_V: float | None = Field(
        None, description="vs M/M+; None: no phase to give the metal up to in the library"
    )
    reduction_reaction: str | None = None
    oxidation_reaction: str | None = None
    window_convention: str | None = None
    interphase_class: str | None = Field(None, description="Key of INTERPHASE_CLASSES")
    interphase_description: str | None = None
    interphase_reasons: list[str] = Field(default_factory=list)
    phase_energies_eV_per_atom: dict[str, float] = Field(
        default_factory=dict, description="Relaxed total energy per atom of every phase"
    )
    phase_formulas: dict[str, str] = Field(
        default_factory=dict, description="Library name -> reduced formula"
    )
    stable_phases: list[str] = Field(default_factory=list, description="Phases on the hull")
    missing_phases: list[str] = Field(
        default_factory=list, description="Known phases of the system not in the library"
    )
    energy_note: str | None = Field(None, description="Which energies, and where they are weak")

    def block(self, uuid: str | None = None) -> StabilityBlock:
        """The compact block other summaries carry."""
        return StabilityBlock(
            stability_uuid=uuid,
            status=self.status,
            calculator=self.calculator,
            reaction_energy_eV_per_atom=self.reaction_energy_eV_per_atom,
            mixing_ratio=self.mixing_ratio,
            products=list(self.products),
            reduction_limit_V=self.reduction_limit_V,
            interphase_class=self.interphase_class,
        )


@functools.cache
def _characters() -> dict[str, dict[str, Any]]:
    import yaml

    text = (
        resources.files("ssbflow").joinpath("data", "interphase_characters.yaml").read_text("utf-8")
    )
    return dict(yaml.safe_load(text)["products"])


def interphase_characters() -> dict[str, dict[str, Any]]:
    """Ionic/electronic character of interphase products, with sources (a copy)."""
    return {k: dict(v) for k, v in _characters().items()}


def system_phases(elements: set[str]) -> list[str]:
    """Library phases whose elements all lie in ``elements``, in library order."""
    from ssbflow.structures.library import list_phases

    names = []
    for info in list_phases():
        comp = Composition(info.formula)
        if {el.symbol for el in comp.elements} <= elements:
            names.append(info.name)
    return names


def missing_phases(elements: set[str]) -> list[str]:
    """Known phases of the system that the library lacks (see `KNOWN_MISSING_PHASES`)."""
    out: list[str] = []
    for system, phases in KNOWN_MISSING_PHASES.items():
        if system <= elements:
            out += phases
    return out


def default_relax_maker(
    calculator_name: str = "chgnet",
    calculator_kwargs: dict[str, Any] | None = None,
    relax_cell: bool = True,
) -> CalcRelaxMaker:
    """Relaxation used for every phase (cell and positions; positions only for molecules)."""
    return CalcRelaxMaker(
        name="stability relax" if relax_cell else "stability relax (fixed box)",
        calculator_name=calculator_name,
        calculator_kwargs=dict(calculator_kwargs or {}),
        relax_cell=relax_cell,
        steps=1000,
        relax_kwargs={"fmax": 0.05},
    )


@dataclass
class StabilityMaker(Maker):
    """Electrolyte stability against a metal from a phase diagram of relaxed library phases.

    Parameters
    ----------
    name
        Flow name.
    relax_maker
        Relaxation of every bulk phase (cell and positions).
    molecule_relax_maker
        Relaxation of the gas molecules (O2, N2, F2, Cl2) at fixed box.
    primitive
        Relax primitive cells (LLZO: 96 instead of 192 atoms).
    max_atoms
        Largest cell relaxed; a larger phase is refused before anything runs.
    tags
        Stored with the summary document.
    """

    name: str = "stability"
    relax_maker: CalcRelaxMaker = field(default_factory=default_relax_maker)
    molecule_relax_maker: CalcRelaxMaker = field(
        default_factory=lambda: default_relax_maker(relax_cell=False)
    )
    primitive: bool = True
    max_atoms: int = 200
    tags: list[str] = field(default_factory=list)

    @classmethod
    def from_calculator(
        cls, calculator_name: str, calculator_kwargs: dict[str, Any] | None = None, **fields: Any
    ) -> StabilityMaker:
        """A maker whose relaxations all use one calculator."""
        kwargs = dict(calculator_kwargs or {})
        return cls(
            relax_maker=default_relax_maker(calculator_name, kwargs),
            molecule_relax_maker=default_relax_maker(calculator_name, kwargs, relax_cell=False),
            **fields,
        )

    @property
    def calculator_name(self) -> str:
        """Calculator of the relaxations."""
        return self.relax_maker.calculator_name

    def settings(self) -> dict[str, Any]:
        """The fields that change a computed number."""
        return {
            "primitive": self.primitive,
            "max_atoms": self.max_atoms,
            "fmax_eV_per_A": self.relax_maker.relax_kwargs.get("fmax"),
            "steps": self.relax_maker.steps,
        }

    def plan(self, metal: str, electrolyte: str) -> dict[str, Any]:
        """Check the pair and list the phases (computes nothing).

        Returns
        -------
        dict
            ``metal`` (element symbol), ``electrolyte`` (library name), ``elements``,
            ``phases`` (library names), ``kinds`` (name -> kind).

        Raises
        ------
        InputError
            Unknown phase, a metal that is not one element, a pair with no common
            chemical system (the metal is not an element of the electrolyte), an element
            with no elemental phase in the library, a cell larger than ``max_atoms``, a
            calculator without the elements.
        """
        from ssbflow.structures.library import get_phase, phase_info

        metal_info = phase_info(metal)
        electrolyte_info = phase_info(electrolyte)
        metal_comp = Composition(metal_info.formula)
        if not metal_comp.is_element:
            raise InputError(
                f"metal '{metal}' is {metal_info.formula}, not one element; give an elemental "
                "metal such as Li or Na",
                field="metal",
            )
        symbol = metal_comp.elements[0].symbol
        el_elements = {el.symbol for el in Composition(electrolyte_info.formula).elements}
        if symbol not in el_elements:
            raise InputError(
                f"{symbol} and {electrolyte_info.name} ({electrolyte_info.formula}) have no "
                f"common chemical system: the window vs {symbol}/{symbol}+ needs {symbol} in "
                f"the electrolyte; use the electrolyte's own metal "
                f"({', '.join(sorted(e for e in el_elements if e in {'Li', 'Na', 'K'})) or 'none'})",
                field="metal",
            )
        if Composition(electrolyte_info.formula).is_element:
            raise InputError(
                f"'{electrolyte}' is an element, not an electrolyte", field="electrolyte"
            )
        elements = el_elements | {symbol}
        phases = system_phases(elements)
        kinds = {name: phase_info(name).kind for name in phases}
        have = {
            Composition(phase_info(n).formula).elements[0].symbol
            for n in phases
            if Composition(phase_info(n).formula).is_element
        }
        lacking = sorted(elements - have)
        if lacking:
            raise InputError(
                f"the library has no elemental phase for {', '.join(lacking)}, so the "
                f"{'-'.join(sorted(elements))} phase diagram cannot be built; add one to "
                "ssbflow/data/phases.yaml",
                field="electrolyte",
            )
        check_calculator(self.calculator_name, sorted(elements), self.relax_maker.calculator_kwargs)
        for name in phases:
            n = len(get_phase(name, primitive=self.primitive))
            if n > self.max_atoms:
                raise InputError(
                    f"phase {name} has {n} atoms in its {'primitive' if self.primitive else ''} "
                    f"cell, more than max_atoms={self.max_atoms}; raise max_atoms",
                    field="max_atoms",
                )
        return {
            "metal": symbol,
            "electrolyte": electrolyte_info.name,
            "elements": sorted(elements),
            "phases": phases,
            "kinds": kinds,
        }

    def make(self, metal: str, electrolyte: str) -> Flow:
        """Build the flow (computes nothing); see `plan` for the checks.

        Parameters
        ----------
        metal, electrolyte
            Library names (``"Li"``, ``"Li3PS4"``, ``"LLZO"``).
        """
        from ssbflow.structures.library import get_phase

        if self.max_atoms < 1:
            raise InputError(f"max_atoms must be positive, got {self.max_atoms}", field="max_atoms")
        for sub in (self.relax_maker, self.molecule_relax_maker):
            if (
                sub.calculator_name != self.calculator_name
                or sub.calculator_kwargs != self.relax_maker.calculator_kwargs
            ):
                raise InputError(
                    "relax_maker and molecule_relax_maker use different calculators; a phase "
                    "diagram needs one calculator for every phase",
                    field="molecule_relax_maker",
                )
        plan = self.plan(metal, electrolyte)
        jobs = []
        outputs: dict[str, Any] = {}
        formulas: dict[str, str] = {}
        for name in plan["phases"]:
            structure: Structure = get_phase(name, primitive=self.primitive)
            maker = self.molecule_relax_maker if plan["kinds"][name] == "molecule" else None
            maker = maker or self.relax_maker
            relax = maker.make(structure)
            relax.name = f"{maker.name} {name}"
            jobs.append(relax)
            outputs[name] = relax.output
            formulas[name] = structure.composition.formula.replace(" ", "")
        summary = summarize_stability(
            outputs,
            formulas=formulas,
            metal=plan["metal"],
            electrolyte=plan["electrolyte"],
            elements=plan["elements"],
            calculator=self.calculator_name,
            provenance=provenance_for(self.relax_maker, self.settings()).model_dump(mode="json"),
            tags=list(self.tags),
        )
        summary.config.on_missing_references = OnMissing.NONE
        summary.name = f"stability {plan['metal']}/{plan['electrolyte']}"
        return Flow([*jobs, summary], output=summary.output, name=self.name)


def _energy_note(calculator: str) -> str:
    return ENERGY_NOTE.get(
        calculator,
        f"energies from '{calculator}' with no compatibility correction; formation energies "
        "of oxides/sulfides/halides against gas-molecule references carry that method's "
        "own errors (plain GGA underbinds O2 and overestimates oxide formation energies)",
    )


@job
def summarize_stability(
    relaxed: dict[str, Any],
    formulas: dict[str, str],
    metal: str,
    electrolyte: str,
    elements: list[str],
    calculator: str,
    provenance: dict[str, Any],
    tags: list[str],
) -> StabilityDocument:
    """Phase diagram from the relaxed energies -> `StabilityDocument`.

    A relaxation that failed, did not converge or gave no energy makes the whole result
    ``failed`` with the reason (a phase diagram missing a phase is a different diagram).
    """
    electrolyte_formula = Composition(formulas[electrolyte]).reduced_formula
    base: dict[str, Any] = {
        "system": f"{metal}/{electrolyte}",
        "formula": electrolyte_formula,
        "calculator": calculator,
        "provenance": provenance,
        "metal": metal,
        "electrolyte": electrolyte,
        "chemical_system": "-".join(elements),
        "tags": tags,
        "missing_phases": missing_phases(set(elements)),
        "energy_note": _energy_note(calculator),
        "phase_formulas": {n: Composition(f).reduced_formula for n, f in formulas.items()},
    }
    failures = [
        reason
        for name in formulas
        if (reason := task_failure(relaxed.get(name), f"relaxation of {name}")) is not None
    ]
    if failures:
        return StabilityDocument(status="failed", failure_reason="; ".join(failures), **base)
    phases = [
        PhaseEnergy(name=n, formula=formulas[n], energy_eV=task_energy_eV(relaxed[n]))  # type: ignore[arg-type]
        for n in formulas
    ]
    per_atom = {p.name: p.energy_eV / Composition(p.formula).num_atoms for p in phases}
    try:
        pd = build_phase_diagram(phases)
        result = analyse_stability(pd, metal, electrolyte)
    except Exception as exc:  # any pymatgen failure is stored as a failed result
        return StabilityDocument(
            status="failed",
            failure_reason=f"phase-diagram analysis failed: {type(exc).__name__}: {exc}",
            phase_energies_eV_per_atom=per_atom,
            **base,
        )
    cls, reasons = classify_interphase(result.products_metal_rich, _characters())
    warnings = list(result.warnings)
    if base["missing_phases"]:
        warnings.append(
            "the library lacks known phases of this system ("
            + ", ".join(base["missing_phases"])
            + "): the window is an outer bound and the products may differ"
        )
    if cls == "stable_sei" and any(
        _characters().get(p, {}).get("electronic") == "semiconductor"
        for p in result.products_metal_rich
    ):
        warnings.append(
            "a product is a narrow-gap semiconductor (counted as electronically insulating): "
            "the passivating-SEI class is optimistic"
        )
    warnings.append(
        "thermodynamics only (no kinetics, 0 K total energies); where these energies are "
        "weak and which are mixed: see energy_note"
    )
    return StabilityDocument(
        **base,
        energy_above_hull_eV_per_atom=result.energy_above_hull_eV_per_atom,
        decomposition=result.decomposition,
        reaction_energy_eV_per_atom=result.reaction_energy_eV_per_atom,
        mixing_ratio=result.mixing_ratio,
        reaction=result.reaction,
        reacts_with_metal=result.reacts,
        products_at_minimum=result.products_at_minimum,
        products=result.products_metal_rich,
        reaction_curve=[[x, e] for x, e in result.reaction_curve],
        reduction_limit_V=result.reduction_limit_V,
        reduction_onset_V=result.reduction_onset_V,
        oxidation_limit_V=result.oxidation_limit_V,
        reduction_reaction=result.reduction_reaction,
        oxidation_reaction=result.oxidation_reaction,
        window_convention=result.window_convention,
        interphase_class=cls,
        interphase_description=INTERPHASE_CLASSES[cls],
        interphase_reasons=reasons,
        phase_energies_eV_per_atom=per_atom,
        stable_phases=result.stable_phases,
        warnings=warnings,
    )


def stability_block(value: Any) -> StabilityBlock | None:
    """The compact block for another summary, from ``{"uuid": ..., "doc": ...}`` or a doc.

    ``None`` (the stability job did not run or failed to produce a document) gives ``None``.
    """
    if value is None:
        return None
    uuid = None
    if isinstance(value, dict) and "doc" in value:
        uuid, value = value.get("uuid"), value.get("doc")
    if value is None:
        return None
    doc = value if isinstance(value, StabilityDocument) else StabilityDocument.model_validate(value)
    return doc.block(uuid)


def optional_stability_maker(
    calculator_name: str,
    calculator_kwargs: dict[str, Any] | None,
    metal: str,
    electrolyte: str,
    max_atoms: int = 200,
) -> tuple[StabilityMaker | None, str | None]:
    """A stability maker for an adhesion pair, or (None, why) when the pair has none.

    Used to attach a stability block to an adhesion study: names that are not library
    phases (structure files), a metal that is not in the electrolyte or a calculator
    without the elements mean no block, not an error.
    """
    maker = StabilityMaker.from_calculator(calculator_name, calculator_kwargs, max_atoms=max_atoms)
    try:
        maker.plan(metal, electrolyte)
    except InputError as exc:
        return None, str(exc)
    return maker, None
