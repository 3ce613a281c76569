"""Reproduce published findings: run ssbflow on each reference row, set computed beside published.

For every selected row of the reference set (`ssbflow.reproduce.reference`) this module

1. lists the systems the row needs (one for a numeric row, every member of an ordering
   claim), builds each as the source describes it (same metal, electrolyte, facets and
   termination; facets the source does not state fall back to the workflow's defaults,
   and the report says so),
2. runs the adhesion workflow (work of adhesion, interface energy, contact angle) or the
   surface-energy workflow with one calculator and one set of settings for all rows
   (nothing is tuned per row),
3. stores every result in the results database tagged ``reference:<ROW ID>`` and with a
   task tag that hashes the system and the settings, so that a rerun finds completed
   systems in the store and reuses them instead of computing again,
4. compares: differences and error statistics for numeric rows
   (`ssbflow.analysis.parity`), pass/fail for ordering claims.

A system that cannot be built or run as described (unknown phase, calculator without
parameters for an element, more atoms than ``max_atoms``, a failed calculation) is kept
with its reason; no row is dropped silently.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from ssbflow.analysis.parity import evaluate_ordering, parity_statistics, relative_differences
from ssbflow.calculators import (
    ML_CALCULATORS,
    check_calculator,
    level_of_theory,
    normalize_name,
)
from ssbflow.errors import CalculationError, InputError
from ssbflow.reproduce.reference import (
    STABILITY_QUANTITIES,
    ClaimMember,
    ReferenceRow,
    format_facet,
    parse_products_claim,
)
from ssbflow.settings import SsbflowSettings

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from ssbflow.workflows.surface import FacetSurfaceMaker

#: Bumped whenever the way a reference system is built changes, so stored results made
#: the old way are not reused.
TASK_VERSION = "4"
# 3: converged one-face surface energies; γ_int from the contact face
# 4: surface rows: rigid slabs for 'ideal' rows, only the terminations a row names (lowest γ
#    among them), μ by coexistence with named phases, slab series capped at max_atoms


#: Where each quantity lives in the stored documents (relaxed value; ideal where asked).
_ADHESION_FIELDS: dict[tuple[str, str], str] = {
    ("work_of_adhesion", "relaxed"): "work_of_adhesion_J_per_m2",
    ("work_of_adhesion", "not stated"): "work_of_adhesion_J_per_m2",
    ("work_of_adhesion", "ideal"): "work_of_adhesion_ideal_J_per_m2",
    ("interface_energy", "relaxed"): "interface_energy_J_per_m2",
    ("interface_energy", "not stated"): "interface_energy_J_per_m2",
    ("contact_angle", "relaxed"): "contact_angle_deg",
    ("contact_angle", "not stated"): "contact_angle_deg",
}
_SURFACE_FIELD = "surface_energy_J_per_m2"
#: Stability quantities in the stored StabilityDocument.
_STABILITY_FIELDS = {"reduction_limit": "reduction_limit_V", "oxidation_limit": "oxidation_limit_V"}

Status = Literal["computed", "reused", "failed", "not reproducible"]

#: Former names of this module that moved into the library: old name -> (module, name).
_MOVED = {
    "coexistence_chemical_potentials_eV": (
        "ssbflow.analysis.coexistence",
        "coexistence_chemical_potentials_eV",
    ),
    "match_terminations": ("ssbflow.workflows.surface", "match_terminations"),
    "surface_at_coexistence": ("ssbflow.workflows.surface", "surface_at_coexistence"),
}


def __getattr__(name: str) -> Any:
    """The moved names, with a DeprecationWarning (imported on first use: the surface
    workflow loads atomate2)."""
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    import warnings

    module, new = _MOVED[name]
    warnings.warn(
        f"ssbflow.reproduce.{name} is deprecated; use {module}.{new}",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(module), new)


@dataclass(frozen=True)
class ReproduceOptions:
    """One calculator and one set of settings for every row.

    Attributes
    ----------
    calculator
        Calculator name (`ssbflow.calculators`).
    calculator_kwargs
        Calculator keyword arguments.
    max_atoms
        Largest interface or slab the workflows may build; larger published cells are
        reported as not reproducible, and a slab series stops at the thickest slab within it.
    rigid_slabs
        Unrelaxed slabs for every surface row (one single point per slab instead of a
        relaxation: affordable for slabs of hundreds of atoms; γ is then the ideal-surface
        value, above the relaxed one). Rows marked ``ideal`` are always rigid.
    """

    calculator: str = "chgnet"
    calculator_kwargs: dict[str, Any] = field(default_factory=dict)
    max_atoms: int = 200
    rigid_slabs: bool = False

    def settings_dict(self) -> dict[str, Any]:
        """The options that change a computed number (part of the reuse key)."""
        return {
            "calculator": normalize_name(self.calculator),
            "calculator_kwargs": self.calculator_kwargs,
            "max_atoms": self.max_atoms,
            "task_version": TASK_VERSION,
        }


@dataclass
class Task:
    """One system to compute (shared by every row that needs it)."""

    kind: Literal["surface", "adhesion", "stability"]
    member: ClaimMember
    metal_structure: str | None
    electrolyte_termination: str | None
    row_ids: list[str]
    tag: str
    relaxation: str = "not stated"
    chemical_potentials: tuple[tuple[str, str], ...] = ()

    @property
    def rigid(self) -> bool:
        """Surface energies of unrelaxed (ideal) slabs."""
        return self.relaxation == "ideal"

    @property
    def label(self) -> str:
        """Readable system label."""
        return self.member.label


class TaskResult(BaseModel):
    """What happened to one system."""

    label: str
    kind: Literal["surface", "adhesion", "stability"]
    tag: str
    status: Status
    reason: str | None = None
    document: dict[str, Any] | None = Field(None, description="Stored output (summary fields)")
    documents: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Surface tasks: every termination's stored output (summary fields)",
    )
    wall_time_s: float = 0.0
    facets_used: str = ""


class MemberValue(BaseModel):
    """One member of an ordering claim with its computed value."""

    label: str
    value: float | None
    status: Status
    reason: str | None = None


class EntryResult(BaseModel):
    """Published versus computed for one reference row."""

    id: str
    kind: Literal["numeric", "ordering", "products"]
    quantity: str
    unit: str
    published: float | str = Field(..., description="Value (numeric) or claim (ordering)")
    computed: float | dict[str, float | None] | str | None
    difference: float | None = None
    relative_difference: float | None = None
    status: str = Field(
        ...,
        description="numeric: computed/reused/failed/not reproducible; "
        "ordering: passed/failed/not evaluated",
    )
    reason: str | None = None
    members: list[MemberValue] = Field(default_factory=list)
    source_level_of_theory: str
    computed_level_of_theory: str
    comparison: str
    provenance: str = Field(
        "published", description="'published' or 'project value' (computed by ssbflow itself)"
    )
    definition: str
    source: str
    facets_used: list[str] = Field(default_factory=list)
    wall_time_s: float = 0.0


class ReproduceSummary(BaseModel):
    """Error statistics of numeric rows and the tally of ordering claims."""

    unit: str | None = Field(None, description="Unit of mae/rmse/max_abs_error")
    mae: float | None = None
    rmse: float | None = None
    max_abs_error: float | None = None
    mean_signed_error: float | None = None
    n_numeric: int = Field(0, description="Numeric rows with a computed value")
    n_numeric_total: int = 0
    by_unit: dict[str, dict[str, float | int]] = Field(default_factory=dict)
    by_group: dict[str, dict[str, float | int | str]] = Field(
        default_factory=dict,
        description="Error statistics per (unit, provenance, published level of theory)",
    )
    orderings_passed: int = 0
    orderings_total: int = Field(0, description="Ordering claims evaluated (>= 2 members)")
    orderings_not_evaluated: int = 0
    n_systems: int = 0
    n_systems_reused: int = 0
    n_systems_failed: int = 0
    n_systems_not_reproducible: int = 0


class ReproduceResult(BaseModel):
    """The whole comparison: what ``--json`` prints and the report is written from."""

    calculator: str
    calculator_kwargs: dict[str, Any]
    level_of_theory: str
    is_ml_potential: bool
    comparison_note: str
    max_atoms: int
    rigid_slabs: bool = False
    reference_file: str
    entries: list[EntryResult]
    systems: list[TaskResult]
    summary: ReproduceSummary
    wall_time_s: float


# -- building the task list -------------------------------------------------------------


def _task_tag(kind: str, member: ClaimMember, row: ReferenceRow, options: ReproduceOptions) -> str:
    key = {
        "kind": kind,
        "metal": member.metal,
        "metal_structure": row.metal_structure,
        "metal_facet": member.metal_facet,
        "electrolyte": member.electrolyte,
        "electrolyte_facet": member.electrolyte_facet,
        "termination": row.electrolyte_termination,
        **options.settings_dict(),
    }
    if kind == "surface":
        key["rigid"] = row.relaxation == "ideal" or options.rigid_slabs
        key["chemical_potentials"] = sorted(row.chemical_potential_phases.items())
    digest = hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    return f"reference-task:{digest[:16]}"


def build_tasks(rows: Sequence[ReferenceRow], options: ReproduceOptions) -> list[Task]:
    """The distinct systems the rows need, each listing the rows that use it."""
    tasks: dict[str, Task] = {}
    for row in rows:
        kind: Literal["surface", "adhesion", "stability"] = (
            "surface" if row.quantity == "surface_energy" else "adhesion"
        )
        if row.quantity in STABILITY_QUANTITIES:
            kind = "stability"
        for member in row.members():
            tag = _task_tag(kind, member, row, options)
            if tag in tasks:
                if row.id not in tasks[tag].row_ids:
                    tasks[tag].row_ids.append(row.id)
                continue
            tasks[tag] = Task(
                kind=kind,
                member=member,
                metal_structure=row.metal_structure,
                electrolyte_termination=row.electrolyte_termination,
                row_ids=[row.id],
                tag=tag,
                relaxation="ideal" if kind == "surface" and options.rigid_slabs else row.relaxation,
                chemical_potentials=tuple(sorted(row.chemical_potential_phases.items())),
            )
    return list(tasks.values())


# -- structures ---------------------------------------------------------------------------


def resolve_bulk(name: str, structure_type: str | None) -> Any:
    """Bulk structure of ``name``: ASE's reference crystal for an element with a given
    structure type (fcc/bcc/hcp), otherwise the ssbflow phase library, and for an element
    missing from the library its fcc/bcc/hcp reference state in ASE.

    Raises
    ------
    InputError
        Unknown phase, or no reference lattice constant for the element and structure.
    """
    if structure_type:
        from ase.build import bulk
        from ase.data import atomic_numbers
        from pymatgen.io.ase import AseAtomsAdaptor

        if name not in atomic_numbers:
            raise InputError(f"'{name}' with structure '{structure_type}' is not an element")
        try:
            # conventional cubic cells for fcc/bcc: reference facets are conventional indices
            atoms = bulk(name, structure_type, cubic=structure_type in {"fcc", "bcc"})
        except (ValueError, KeyError) as exc:
            raise InputError(
                f"no reference {structure_type} lattice constant for {name} in ASE: {exc}"
            ) from exc
        return AseAtomsAdaptor.get_structure(atoms)
    from ssbflow.structures.library import load_structure

    try:
        return load_structure(name)
    except InputError:
        from ase.data import atomic_numbers, reference_states

        state = reference_states[atomic_numbers[name]] if name in atomic_numbers else None
        if state is None or state.get("symmetry") not in {"fcc", "bcc", "hcp"}:
            raise
        return resolve_bulk(name, state["symmetry"])


# -- the store ------------------------------------------------------------------------------


def find_stored(settings: SsbflowSettings, tag: str, calculator: str) -> dict[str, Any] | None:
    """The newest stored summary document carrying ``tag`` for ``calculator`` (or None)."""
    docs = find_stored_all(settings, tag, calculator)
    return docs[0] if docs else None


def find_stored_all(settings: SsbflowSettings, tag: str, calculator: str) -> list[dict[str, Any]]:
    """Every stored summary document carrying ``tag`` for ``calculator``, newest first."""
    from ssbflow.execution.store import get_jobstore

    store = get_jobstore(settings)
    store.connect()
    try:
        docs = list(
            store.query(
                {
                    "output.tags": tag,
                    "output.calculator": calculator,
                    "output.result_type": {"$exists": True},
                },
                properties=["output"],
                sort={"completed_at": -1},
            )
        )
    finally:
        store.close()
    return [d["output"] for d in docs]


# -- running -------------------------------------------------------------------------------


def _make_flow(task: Task, options: ReproduceOptions, tags: list[str]) -> tuple[Any, str]:
    """Build the workflow for one task; returns (flow, description of the facets used).

    Surface energies: the bulk is relaxed (cell and positions) with the same calculator,
    then `SurfaceEnergyMaker` cuts its slab series. Interfaces: `AdhesionMaker` with every
    step on the same calculator. Facets the source does not state use the workflow's
    defaults, and the description says so.

    Raises
    ------
    InputError
        The system cannot be built as described (unknown phase, calculator without the
        elements, structures larger than ``max_atoms``).
    """

    member = task.member
    calc = normalize_name(options.calculator)
    kw = dict(options.calculator_kwargs)
    if task.kind == "stability":
        from ssbflow.workflows.stability import StabilityMaker

        assert member.electrolyte is not None
        maker = StabilityMaker.from_calculator(
            calc, kw, max_atoms=options.max_atoms, tags=list(tags)
        )
        flow = maker.make(member.metal, member.electrolyte)
        return flow, f"{member.metal}/{member.electrolyte}: phase diagram of the library phases"
    if task.kind == "surface":
        return _surface_flow(task, calc, kw, options.max_atoms, tags)

    from ssbflow.workflows.adhesion import AdhesionMaker

    assert member.electrolyte is not None
    metal = resolve_bulk(member.metal, task.metal_structure)
    electrolyte = resolve_bulk(member.electrolyte, None)
    elements = {el.symbol for el in metal.composition} | {
        el.symbol for el in electrolyte.composition
    }
    check_calculator(calc, elements, kw)
    if len(electrolyte) > options.max_atoms:
        raise InputError(
            f"the {member.electrolyte} bulk cell alone has {len(electrolyte)} atoms, more than "
            f"max_atoms {options.max_atoms}",
            field="max_atoms",
        )
    settings: dict[str, Any] = {
        "max_atoms": options.max_atoms,
        "electrolyte_termination": task.electrolyte_termination,
        "tags": tags,
    }
    if member.metal_facet is not None:
        settings["metal_miller"] = member.metal_facet
    if member.electrolyte_facet is not None:
        settings["electrolyte_miller"] = member.electrolyte_facet
    maker = AdhesionMaker.from_calculator(calc, kw, **settings)
    used = (
        f"{member.metal}({format_facet(maker.metal_miller)}"
        f"{'' if member.metal_facet else ', workflow default: not stated in source'})/"
        f"{member.electrolyte}({format_facet(maker.electrolyte_miller)}"
        f"{'' if member.electrolyte_facet else ', workflow default: not stated in source'})"
    )
    return maker.make(metal, electrolyte, member.metal, member.electrolyte), used


def _surface_structures(task: Task) -> tuple[Structure, dict[str, Structure]]:
    """The bulk of a surface task and its coexisting phases (phase name -> structure)."""
    bulk = resolve_bulk(task.member.metal, task.metal_structure)
    phases = {phase: resolve_bulk(phase, None) for _, phase in task.chemical_potentials}
    return bulk, phases


def _surface_maker(
    task: Task, calc: str, kw: dict[str, Any], max_atoms: int, tags: Sequence[str] = ()
) -> FacetSurfaceMaker:
    """The library's `FacetSurfaceMaker` for a surface task, all on one calculator.

    The bulk (and any coexisting phase) is relaxed, cell and positions; the slabs are
    relaxed at fixed cell, or rigid for ``ideal`` rows; only the terminations whose
    outermost-plane chemistry is the row's termination (all when it names none); slab
    series within ``max_atoms``; μ of the named elements by coexistence.

    Raises
    ------
    InputError
        The row states no facet.
    """
    from ssbflow.workflows.calc import CalcRelaxMaker, CalcStaticMaker
    from ssbflow.workflows.surface import FacetSurfaceMaker, SurfaceEnergyMaker

    if task.member.metal_facet is None:
        raise InputError(
            "a surface energy needs a facet; the source states none", field="metal_facet"
        )
    surface = SurfaceEnergyMaker(
        miller=task.member.metal_facet,
        relax_maker=None if task.rigid else CalcRelaxMaker(name="slab relax", relax_cell=False),
        static_maker=CalcStaticMaker(name="bulk reference"),
        tags=list(tags),
    )
    maker = FacetSurfaceMaker(
        name=f"reference {task.label}",
        surface_maker=surface,
        bulk_relax_maker=CalcRelaxMaker(name="bulk relax", relax_cell=True),
        termination=task.electrolyte_termination,
        max_atoms=max_atoms,
        coexisting_phases=dict(task.chemical_potentials),
    )
    return maker.with_calculator(calc, kw)


def _surface_flow(
    task: Task, calc: str, kw: dict[str, Any], max_atoms: int, tags: list[str]
) -> tuple[Any, str]:
    """Relax the bulk (and any coexisting phases), then converge the slab series
    (`ssbflow.workflows.surface.FacetSurfaceMaker`, see `_surface_maker`).

    Returns the flow and the description of what it computes.
    """
    member = task.member
    maker = _surface_maker(task, calc, kw, max_atoms, tags)
    bulk, phases = _surface_structures(task)
    plan = maker.plan(bulk, member.label)
    elements = {el.symbol for st in (bulk, *phases.values()) for el in st.composition}
    check_calculator(calc, elements, kw)
    flow = maker.make(bulk, phases, name=member.metal, plan=plan)
    used = f"{member.metal}({format_facet(member.metal_facet)})"
    if (task.electrolyte_termination or "").strip():
        labels = ", ".join(p.termination.label for p in plan)
        used += f" {task.electrolyte_termination}: terminations {labels}"
    if task.rigid:
        used += ", rigid slabs"
    cap = maker.surface_maker.capped(plan).max_thickness_A
    if cap < maker.surface_maker.max_thickness_A:
        used += f", series capped at {cap:.1f} Å (max atoms {max_atoms})"
    if task.chemical_potentials:
        used += ", μ as in " + ", ".join(f"{el}: {ph}" for el, ph in task.chemical_potentials)
    return flow, used


#: Settings whose limit, when exceeded, makes a system "not reproducible" within the
#: limits of a run (the interface search and the slab sizes), rather than "failed".
SIZE_LIMIT_FIELDS = frozenset({"max_atoms", "max_area_A2", "max_strain"})


def exceeds_max_atoms(exc: BaseException) -> bool:
    """Whether ``exc`` says a structure would exceed the size limits of the run (the
    system is then "not reproducible" within the limits, not "failed").

    True for an error whose ``field`` is one of `SIZE_LIMIT_FIELDS`: an `InputError`
    raised while the flow is built, or a job failure
    (`ssbflow.execution.runner.FlowFailedError`) carrying the field of the `InputError`
    its job raised. (The interface search names whichever limit to raise first; every
    one of them means "no interface within the limits", as the former test on the text
    "max atoms" in that message did.)
    """
    return getattr(exc, "field", None) in SIZE_LIMIT_FIELDS


def run_task(
    task: Task,
    options: ReproduceOptions,
    settings: SsbflowSettings,
    progress: bool = False,
) -> TaskResult:
    """Compute one system, or reuse its stored result.

    Never raises for a system that cannot be built or computed: the returned result
    carries ``status`` ("computed", "reused", "failed", "not reproducible") and the reason.
    """
    from ssbflow.execution.runner import FlowFailedError, run_flow

    calc = normalize_name(options.calculator)
    start = time.perf_counter()
    stored = _stored(settings, task, calc)
    if stored:
        return _from_documents(task, stored, "reused", time.perf_counter() - start)
    tags = [*(f"reference:{rid}" for rid in task.row_ids), task.tag, f"calculator:{calc}"]
    try:
        flow, facets_used = _make_flow(task, options, tags)
    except (InputError, ValueError) as exc:
        return TaskResult(
            label=task.label,
            kind=task.kind,
            tag=task.tag,
            status="not reproducible",
            reason=str(exc),
            wall_time_s=time.perf_counter() - start,
        )
    try:
        run_flow(flow, settings, progress=progress)
    except (FlowFailedError, CalculationError) as exc:
        return TaskResult(
            label=task.label,
            kind=task.kind,
            tag=task.tag,
            status="not reproducible" if exceeds_max_atoms(exc) else "failed",
            reason=str(exc),
            wall_time_s=time.perf_counter() - start,
            facets_used=facets_used,
        )
    stored = _stored(settings, task, calc)
    if not stored:
        raise CalculationError(
            f"the workflow for {task.label} finished but stored no document tagged {task.tag}"
        )
    result = _from_documents(task, stored, "computed", time.perf_counter() - start)
    result.facets_used = facets_used
    return result


def _stored(settings: SsbflowSettings, task: Task, calc: str) -> list[dict[str, Any]]:
    """The stored documents of a task: every termination for a surface, else the newest."""
    if task.kind == "surface":
        latest: dict[Any, dict[str, Any]] = {}
        for doc in find_stored_all(settings, task.tag, calc):
            latest.setdefault(doc.get("termination_index"), doc)  # newest first
        return list(latest.values())
    doc = find_stored(settings, task.tag, calc)
    return [] if doc is None else [doc]


def _gamma(doc: dict[str, Any]) -> float | None:
    value = doc.get(_SURFACE_FIELD)
    if doc.get("status") == "failed" or value is None or not np.isfinite(float(value)):
        return None
    return float(value)


def _from_documents(
    task: Task, docs: list[dict[str, Any]], status: Status, wall: float
) -> TaskResult:
    """One task's result from its stored documents (a surface: the lowest-γ termination)."""
    if len(docs) == 1:
        result = _from_document(task, docs[0], status, wall)
    else:
        done = [d for d in docs if _gamma(d) is not None]
        best = min(done, key=lambda d: _gamma(d)) if done else docs[0]  # type: ignore[arg-type,return-value]
        result = _from_document(task, best, status, wall)
    if task.kind == "surface":
        result.documents = [_summary_fields(d) for d in docs]
    return result


def _summary_fields(doc: dict[str, Any]) -> dict[str, Any]:
    """The scalar fields of a stored document (no structures, candidates or provenance)."""
    keep = {}
    for key, value in doc.items():
        if isinstance(value, bool | int | float | str) or value is None:
            keep[key] = value
        elif key in ("tags", "products", "thicknesses_A", "surface_energies_J_per_m2", "n_atoms"):
            keep[key] = list(value)
        elif key == "chemical_potentials_eV" and isinstance(value, dict):
            keep[key] = dict(value)
    return keep


def _from_document(task: Task, doc: dict[str, Any], status: Status, wall: float) -> TaskResult:
    fields = _summary_fields(doc)
    if doc.get("status") == "failed":
        return TaskResult(
            label=task.label,
            kind=task.kind,
            tag=task.tag,
            status="failed",
            reason=str(doc.get("failure_reason") or "failed (no reason stored)"),
            document=fields,
            wall_time_s=wall,
        )
    return TaskResult(
        label=task.label,
        kind=task.kind,
        tag=task.tag,
        status=status,
        document=fields,
        wall_time_s=wall,
    )


def extract_value(row: ReferenceRow, result: TaskResult) -> tuple[float | None, str | None]:
    """The number a row compares, from a system's result; (None, reason) when missing."""
    if result.status not in ("computed", "reused"):
        return None, result.reason
    assert result.document is not None
    if row.quantity == "surface_energy" and result.documents:
        return _surface_value(row, result.documents)
    if row.quantity == "surface_energy":
        key = _SURFACE_FIELD
    elif row.quantity in _STABILITY_FIELDS:
        key = _STABILITY_FIELDS[row.quantity]
    else:
        key = _ADHESION_FIELDS.get((row.quantity, row.relaxation))
        if key is None:
            return None, f"ssbflow computes no {row.relaxation} {row.quantity}"
    value = result.document.get(key)
    if value is None or not np.isfinite(float(value)):
        return None, f"the stored result has no {key}"
    return float(value), None


def _surface_value(
    row: ReferenceRow, docs: list[dict[str, Any]]
) -> tuple[float | None, str | None]:
    """Lowest γ among the terminations the row names (all terminations when it names none)."""
    from ssbflow.workflows.surface import match_terminations

    keep = match_terminations(
        [str(d.get("termination_chemistry", "")) for d in docs], row.electrolyte_termination
    )
    docs = [docs[i] for i in keep]
    if not docs:
        return None, f"no computed {row.electrolyte_termination} termination"
    values = [g for g in (_gamma(d) for d in docs) if g is not None]
    if not values:
        reasons = "; ".join(str(d.get("failure_reason") or "no γ") for d in docs)
        return None, f"no termination gave a surface energy: {reasons}"
    return min(values), None


# -- assembling -------------------------------------------------------------------------------


def comparison_label(
    calculator: str,
    calculator_kwargs: dict[str, Any],
    source_lot: str,
    provenance: str = "published",
    rigid: bool = False,
) -> str:
    """'ML potential (chgnet) vs. published DFT (...)' style label for one row
    ('... vs. project value ...' for the project's own numbers)."""
    computed = level_of_theory(calculator, calculator_kwargs) + (", rigid slabs" if rigid else "")
    return f"{computed} vs. {provenance} {source_lot}"


def _comparison_note(calculator: str, is_ml: bool) -> str:
    if is_ml:
        return (
            f"ML potential vs. published DFT: values computed with the universal ML potential "
            f"'{calculator}' are compared with published DFT (or experimental/model) values. "
            "Differences mix the ML potential's error with differences in models; they are not "
            "a test of the workflow at the source's own level of theory."
        )
    return (
        f"Computed with '{calculator}' ({level_of_theory(calculator)}); each row names the "
        "source's level of theory, which may differ."
    )


def assemble(
    rows: Sequence[ReferenceRow],
    tasks: Sequence[Task],
    results: dict[str, TaskResult],
    options: ReproduceOptions,
    reference_file: str,
    wall_time_s: float,
) -> ReproduceResult:
    """Put computed beside published for every row and compute the summary."""
    calc = normalize_name(options.calculator)
    computed_lot = level_of_theory(calc, options.calculator_kwargs)
    by_member: dict[tuple[str, str], TaskResult] = {}
    for task in tasks:
        for rid in task.row_ids:
            by_member[(rid, task.label)] = results[task.tag]
    entries: list[EntryResult] = []
    for row in rows:
        members = row.members()
        member_results = [by_member[(row.id, m.label)] for m in members]
        rigid = row.quantity == "surface_energy" and (
            options.rigid_slabs or row.relaxation == "ideal"
        )
        lot = computed_lot + (", rigid slabs" if rigid else "")
        common = {
            "id": row.id,
            "kind": row.kind,
            "quantity": row.quantity,
            "unit": row.unit,
            "source_level_of_theory": row.level_of_theory,
            "computed_level_of_theory": lot,
            "comparison": comparison_label(
                calc, options.calculator_kwargs, row.level_of_theory, row.provenance, rigid
            ),
            "provenance": row.provenance,
            "definition": row.definition,
            "source": row.source,
            "facets_used": [r.facets_used for r in member_results if r.facets_used],
            "wall_time_s": float(sum(r.wall_time_s for r in member_results)),
        }
        if row.kind == "numeric":
            res = member_results[0]
            value, reason = extract_value(row, res)
            assert row.value is not None
            diff = rel = None
            if value is not None:
                diff = value - row.value
                rel_arr = relative_differences([row.value], [value])
                rel = None if np.isnan(rel_arr[0]) else float(rel_arr[0])
            status = res.status if value is not None or res.status != "computed" else "failed"
            entries.append(
                EntryResult(
                    published=row.value,
                    computed=value,
                    difference=diff,
                    relative_difference=rel,
                    status=status,
                    reason=reason,
                    **common,
                )
            )
            continue
        if row.kind == "products":
            entries.append(_products_entry(row, member_results[0], common))
            continue
        claim = row.parsed_claim
        assert claim is not None
        values: list[float | None] = []
        member_values = []
        for m, res in zip(members, member_results, strict=True):
            value, reason = extract_value(row, res)
            values.append(value)
            member_values.append(
                MemberValue(label=m.label, value=value, status=res.status, reason=reason)
            )
        outcome = evaluate_ordering(values, claim.direction)
        missing = [mv.label for mv in member_values if mv.value is None]
        if outcome.passed is None:
            by_reason: dict[str, list[str]] = {}
            for mv in member_values:
                if mv.value is None:
                    by_reason.setdefault(mv.reason or mv.status, []).append(mv.label)
            status = "not evaluated"
            reason = "fewer than two members computed: " + "; ".join(
                f"{', '.join(labels)}: {why}" for why, labels in by_reason.items()
            )
        else:
            status = "passed" if outcome.passed else "failed"
            parts = []
            if outcome.violated_pairs:
                parts.append(
                    "violated: "
                    + ", ".join(
                        f"{members[i].label} {claim.direction} {members[j].label}"
                        for i, j in outcome.violated_pairs
                    )
                )
            if missing:
                parts.append("evaluated without " + ", ".join(missing))
            reason = "; ".join(parts) or None
        entries.append(
            EntryResult(
                published=row.claim or "",
                computed={mv.label: mv.value for mv in member_values},
                status=status,
                reason=reason,
                members=member_values,
                **common,
            )
        )
    summary = summarize(entries, list(results.values()))
    is_ml = calc in ML_CALCULATORS
    return ReproduceResult(
        calculator=calc,
        calculator_kwargs=options.calculator_kwargs,
        level_of_theory=computed_lot,
        is_ml_potential=is_ml,
        comparison_note=_comparison_note(calc, is_ml),
        max_atoms=options.max_atoms,
        rigid_slabs=options.rigid_slabs,
        reference_file=reference_file,
        entries=entries,
        systems=[results[t.tag] for t in tasks],
        summary=summary,
        wall_time_s=wall_time_s,
    )


def _products_entry(row: ReferenceRow, res: TaskResult, common: dict[str, Any]) -> EntryResult:
    """Check a ``Metal/Electrolyte -> A + B`` (or ``-> stable``) claim on a stability result.

    Passed when the claimed products are all among the phases in equilibrium with the
    metal (and the pair reacts), or, for ``stable``, when the metal and the electrolyte do
    not react.
    """
    _, _, claimed = parse_products_claim(row.claim or "")
    if res.status not in ("computed", "reused") or res.document is None:
        return EntryResult(
            published=row.claim or "",
            computed=None,
            status="not evaluated",
            reason=res.reason or res.status,
            **common,
        )
    products = list(res.document.get("products") or [])
    reacts = bool(res.document.get("reacts_with_metal"))
    computed = " + ".join(products) if reacts else "stable"
    if claimed is None:
        passed = not reacts
        reason = None if passed else f"reacts: {res.document.get('reaction')}"
    else:
        missing = [p for p in claimed if p not in products]
        passed = reacts and not missing
        reason = None if passed else ("no reaction" if not reacts else f"missing {missing}")
    return EntryResult(
        published=row.claim or "",
        computed=computed,
        status="passed" if passed else "failed",
        reason=reason,
        **common,
    )


def summarize(entries: Sequence[EntryResult], systems: Sequence[TaskResult]) -> ReproduceSummary:
    """Error statistics per unit for numeric rows; tallies of orderings and systems.

    The top-level ``mae``/``rmse``/``max_abs_error`` are those of J/m^2 rows when there
    are any, else of the only unit present; with no computed numeric row they are None
    (undefined, not zero).
    """
    numeric = [e for e in entries if e.kind == "numeric"]
    done = [e for e in numeric if isinstance(e.computed, float)]
    by_unit: dict[str, dict[str, float | int]] = {}
    for unit in sorted({e.unit for e in done}):
        group = [e for e in done if e.unit == unit]
        stats = parity_statistics([float(e.published) for e in group], [e.computed for e in group])  # type: ignore[misc]
        by_unit[unit] = {
            "n": stats.n,
            "mae": stats.mae,
            "rmse": stats.rmse,
            "max_abs_error": stats.max_abs_error,
            "mean_signed_error": stats.mean_signed_error,
        }
    by_group: dict[str, dict[str, float | int | str]] = {}
    groups: dict[tuple[str, str, str], list[EntryResult]] = {}
    for e in done:
        groups.setdefault((e.unit, e.provenance, e.source_level_of_theory), []).append(e)
    for (unit, provenance, lot), group in sorted(groups.items()):
        stats = parity_statistics([float(e.published) for e in group], [e.computed for e in group])  # type: ignore[misc]
        by_group[f"{unit} | {provenance} | {lot}"] = {
            "unit": unit,
            "provenance": provenance,
            "published_level_of_theory": lot,
            "ids": ", ".join(e.id for e in group),
            "n": stats.n,
            "mae": stats.mae,
            "rmse": stats.rmse,
            "max_abs_error": stats.max_abs_error,
            "mean_signed_error": stats.mean_signed_error,
        }
    headline = (
        "J/m^2" if "J/m^2" in by_unit else (next(iter(by_unit)) if len(by_unit) == 1 else None)
    )
    orderings = [e for e in entries if e.kind in ("ordering", "products")]
    evaluated = [e for e in orderings if e.status in ("passed", "failed")]
    head = by_unit.get(headline, {}) if headline else {}
    return ReproduceSummary(
        unit=headline,
        mae=head.get("mae"),
        rmse=head.get("rmse"),
        max_abs_error=head.get("max_abs_error"),
        mean_signed_error=head.get("mean_signed_error"),
        n_numeric=len(done),
        n_numeric_total=len(numeric),
        by_unit=by_unit,
        by_group=by_group,
        orderings_passed=sum(e.status == "passed" for e in evaluated),
        orderings_total=len(evaluated),
        orderings_not_evaluated=len(orderings) - len(evaluated),
        n_systems=len(systems),
        n_systems_reused=sum(s.status == "reused" for s in systems),
        n_systems_failed=sum(s.status == "failed" for s in systems),
        n_systems_not_reproducible=sum(s.status == "not reproducible" for s in systems),
    )


def reproduce(
    rows: Sequence[ReferenceRow],
    options: ReproduceOptions,
    settings: SsbflowSettings,
    reference_file: str = "ssbflow/data/reference_set.csv",
    progress: Callable[[int, int, TaskResult], None] | None = None,
    show_job_progress: bool = False,
) -> ReproduceResult:
    """Run (or reuse) every system the rows need and compare with the published findings.

    Parameters
    ----------
    rows
        Selected reference rows.
    options
        Calculator and limits, the same for every row.
    settings
        ssbflow settings (results store).
    reference_file
        Name of the reference file, for the report.
    progress
        Called after each system with (index, total, result).
    show_job_progress
        Show jobflow's job spinner on stderr while a system runs.

    Returns
    -------
    ReproduceResult
    """
    if options.max_atoms < 2:
        raise InputError(
            f"max_atoms must be at least 2, got {options.max_atoms}", field="max_atoms"
        )
    normalize_name(options.calculator)
    start = time.perf_counter()
    tasks = build_tasks(rows, options)
    results: dict[str, TaskResult] = {}
    for k, task in enumerate(tasks, start=1):
        results[task.tag] = run_task(task, options, settings, progress=show_job_progress)
        if progress is not None:
            progress(k, len(tasks), results[task.tag])
    return assemble(rows, tasks, results, options, reference_file, time.perf_counter() - start)


# -- VASP inputs for HPC ---------------------------------------------------------------------


def _vasp_folder_name(task: Task) -> str:
    name = "".join(c if c.isalnum() else "_" for c in task.label).strip("_")
    if task.electrolyte_termination:
        name += "_" + task.electrolyte_termination.replace("-terminated", "")
    return name


def _write_vasp_system(
    task: Task,
    bulk: Structure,
    phases: dict[str, Structure],
    out_dir: Path,
    options: ReproduceOptions,
    kpoint_spacing_per_A: float,
    written: list[Path],
) -> dict[str, Any]:
    """Write one surface system's VASP folders (appended to ``written``); its manifest entry.

    The bulk and phase inputs are written even when the slabs cannot be built (the reason
    is then ``slabs_not_built``).
    """
    from ssbflow.workflows.vasp import (
        vasp_bulk_relax_maker,
        vasp_slab_relax_maker,
        vasp_static_maker,
    )

    k = kpoint_spacing_per_A
    bulk_set = vasp_bulk_relax_maker(k).input_set_generator
    slab_set = (
        vasp_static_maker(k) if task.rigid else vasp_slab_relax_maker(k)
    ).input_set_generator

    def emit(generator: Any, structure: Structure, where: Path) -> None:
        generator.get_input_set(structure, potcar_spec=True).write_input(where)
        written.append(where)

    no_slabs = None
    try:
        maker = _surface_maker(task, options.calculator, {}, options.max_atoms)
        plan = maker.plan(bulk, task.member.label)
    except InputError as exc:
        no_slabs = str(exc)
        plan = []
    root = out_dir / _vasp_folder_name(task)
    emit(bulk_set, bulk, root / "bulk")
    for phase, st in phases.items():
        emit(bulk_set, st, root / "phases" / phase)
    slabs = []
    for p in plan:
        term = p.termination
        for s in p.series:
            folder = (
                root
                / "slabs"
                / (f"{term.label.replace(':', '_').replace('+', '')}_{s.thickness_A:.1f}A")
            )
            emit(slab_set, s.slab, folder)
            slabs.append(
                {
                    "folder": str(folder.relative_to(out_dir)),
                    "termination": term.label,
                    "thickness_A": s.thickness_A,
                    "area_A2": s.area_A2,
                    "n_atoms": len(s.slab),
                    "composition": {el.symbol: int(n) for el, n in s.slab.composition.items()},
                    "stoichiometric": s.stoichiometric,
                }
            )
    return {
        "system": task.label,
        "rows": task.row_ids,
        "termination": task.electrolyte_termination,
        "rigid_slabs": task.rigid,
        "bulk": str((root / "bulk").relative_to(out_dir)),
        "bulk_composition": {el.symbol: int(n) for el, n in bulk.composition.items()},
        "coexisting_phases": {
            el: str((root / "phases" / ph).relative_to(out_dir))
            for el, ph in task.chemical_potentials
        },
        "slabs": slabs,
        "slabs_not_built": no_slabs,
    }


def write_vasp_inputs(
    rows: Sequence[ReferenceRow],
    out_dir: Path,
    max_atoms: int = 200,
    kpoint_spacing_per_A: float = 0.22,
) -> list[Path]:
    """Write VASP inputs (INCAR, KPOINTS, POSCAR, POTCAR.spec) for the surface rows.

    For HPC users who run the published level of theory themselves. Per surface system:
    ``bulk/`` (cell relaxation, `ssbflow.workflows.vasp.vasp_bulk_relax_maker`),
    ``phases/<name>/`` for the phases that fix μ by coexistence (cell relaxations), and
    ``slabs/<termination>_<thickness>A/`` for the slab series of each termination the row
    names (fixed-cell relaxations, ``vasp_slab_relax_maker``; single points,
    ``vasp_static_maker``, for ``ideal`` rows), at most ``max_atoms`` atoms each.
    When ssbflow cannot build a row's slabs (a polar termination, too few symmetric slabs)
    the bulk and phase inputs are still written and ``slabs_not_built`` gives the reason.
    ``manifest.json`` lists every folder with the slab area, thickness and composition, and
    the formula γ = (E_slab − Σ_i N_i μ_i)/(2A). The slabs are cut from the library bulk:
    recut them from the VASP-relaxed bulk when its lattice differs noticeably. POTCARs are
    not shipped: ``POTCAR.spec`` names them (pymatgen's PBE choice).

    Returns
    -------
    list of pathlib.Path
        The folders written, then the manifest.

    Raises
    ------
    InputError
        No surface row is selected, or no system can be built as its row describes
        (those that cannot are listed with the reason under ``skipped`` in the manifest).
    """
    options = ReproduceOptions(max_atoms=max_atoms)
    tasks = [t for t in build_tasks(rows, options) if t.kind == "surface"]
    if not tasks:
        raise InputError("VASP inputs are written for surface_energy rows; none is selected")
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    manifest: dict[str, Any] = {
        "formula": "gamma_J_per_m2 = (E_slab_eV - sum_i N_i mu_i_eV) / (2 * area_A2) * 16.0218",
        "chemical_potentials": "coexistence: solve sum_j n_ij mu_j = E_i for the bulk and each "
        "phase (energies per cell from the relaxed bulk/ and phases/ runs); without phases "
        "every slab is stoichiometric and mu_i is the bulk energy per atom",
        "kpoint_spacing_per_A": kpoint_spacing_per_A,
        "systems": [],
        "skipped": [],
    }
    for task in tasks:
        try:
            bulk, phases = _surface_structures(task)
        except InputError as exc:
            manifest["skipped"].append(
                {"system": task.label, "rows": task.row_ids, "reason": str(exc)}
            )
            continue
        entry = _write_vasp_system(
            task, bulk, phases, out_dir, options, kpoint_spacing_per_A, written
        )
        manifest["systems"].append(entry)
    if not manifest["systems"]:
        raise InputError(
            "no VASP inputs written: "
            + "; ".join(f"{s['system']}: {s['reason']}" for s in manifest["skipped"])
        )
    path = out_dir / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2))
    written.append(path)
    return written
