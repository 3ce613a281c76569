"""Thermodynamic stability of an electrolyte against a metal: hull, reaction, window.

Pure analysis on total energies (no calculator, no I/O), built on pymatgen's
`PhaseDiagram`, `InterfacialReactivity` and the grand-potential element profile:

- **energy above hull** of the electrolyte, eV/atom (0 on the hull);
- **reaction with the metal**: the most negative reaction energy of a metal + electrolyte
  mixture, eV per atom of mixture, at the mixing ratio ``x`` (atom fraction of the
  electrolyte in the mixture, pymatgen's normalised convention), and the products;
- **products at the metal-rich limit**: the phases in equilibrium with the metal on the
  metal-electrolyte composition line (the interphase that forms at a metal anode);
- **electrochemical window** vs M/M+ (the first-principles stability window of Zhu, He
  and Mo, ACS Appl. Mater. Interfaces 7, 23685 (2015), and Richards et al., Chem. Mater.
  28, 266 (2016)): the electrolyte is stable in a grand-potential phase diagram with the
  metal open for ``mu_low <= mu_M <= mu_high``. The reduction limit is
  ``V_red = -(mu_high - mu_M^0) / e`` and the oxidation limit ``V_ox = -(mu_low - mu_M^0)/e``
  (one electron per metal ion, M+). A phase that takes up no metal until the metal itself
  is the stable phase is stable against plating: ``V_red = 0`` (the convention of the
  published tables); the signed ``reduction_onset_V`` then says how far below plating
  the first reduction lies (how close the phase is to being reduced). An oxidation limit exists only when the library holds a phase (or
  element) the electrolyte can give its metal up to; otherwise it is ``None``.

A phase above the hull has no stability range. Its window is computed for the same
composition brought onto the hull (the usual treatment of metastable electrolytes), and
the result says so (``window_convention``).

Phase diagrams built from an incomplete set of phases give an *outer* bound of the
window: a missing competing phase can only make the electrolyte decompose earlier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "INTERPHASE_CLASSES",
    "PhaseEnergy",
    "StabilityAnalysis",
    "analyse_stability",
    "build_phase_diagram",
    "classify_interphase",
    "electrochemical_window_V",
]

#: Reaction energies above this (eV/atom of mixture) count as "no reaction".
REACTION_TOL_EV_PER_ATOM = 1e-3

#: The four interphase classes (plus "none" when nothing forms and "unknown").
INTERPHASE_CLASSES: dict[str, str] = {
    "stable_sei": (
        "stable passivating SEI: ionically conducting, electronically insulating products"
    ),
    "blocking": "blocking interphase: products insulating to both ions and electrons",
    "mixed_conducting": (
        "mixed-conducting interphase: an electronically conducting product lets it keep growing"
    ),
    "redox_active": "redox-active interphase: a product is itself reduced or oxidised in use",
    "none": "no interphase: the electrolyte is in equilibrium with the metal",
    "unknown": "unknown: the character of a product is not in the library",
}


@dataclass(frozen=True)
class PhaseEnergy:
    """Total energy of one phase.

    Attributes
    ----------
    name : str
        Label (library name), e.g. ``"LLZO"``.
    formula : str
        Composition of the cell the energy belongs to (e.g. ``"Li56La24Zr16O96"``).
    energy_eV : float
        Total energy of that cell, eV.
    """

    name: str
    formula: str
    energy_eV: float


@dataclass
class StabilityAnalysis:
    """Result of `analyse_stability` (all energies in eV, voltages in V vs M/M+)."""

    metal: str
    electrolyte_formula: str
    energy_above_hull_eV_per_atom: float
    decomposition: dict[str, float]
    reaction_energy_eV_per_atom: float
    mixing_ratio: float
    reaction: str
    reacts: bool
    products_at_minimum: list[str]
    products_metal_rich: list[str]
    reaction_curve: list[tuple[float, float]]
    reduction_limit_V: float | None
    reduction_onset_V: float | None
    oxidation_limit_V: float | None
    reduction_reaction: str | None
    oxidation_reaction: str | None
    window_convention: str
    stable_phases: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def build_phase_diagram(phases: Sequence[PhaseEnergy]) -> Any:
    """pymatgen `PhaseDiagram` of `PDEntry` objects with the given total energies.

    Parameters
    ----------
    phases : sequence of PhaseEnergy
        One or more entries per phase; every element of the system needs at least one
        elemental phase.

    Returns
    -------
    pymatgen.analysis.phase_diagram.PhaseDiagram

    Raises
    ------
    ValueError
        No phases, a non-finite energy, or an element with no elemental phase (named).
    """
    import math

    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
    from pymatgen.core import Composition

    if not phases:
        raise ValueError("no phases: a phase diagram needs at least the elements")
    entries = []
    for p in phases:
        if not math.isfinite(p.energy_eV):
            raise ValueError(f"phase {p.name}: energy {p.energy_eV} is not finite")
        entries.append(PDEntry(Composition(p.formula), float(p.energy_eV), name=p.name))
    elements = {el for e in entries for el in e.composition.elements}
    have = {e.composition.elements[0] for e in entries if e.composition.is_element}
    missing = sorted(el.symbol for el in elements - have)
    if missing:
        raise ValueError(
            f"no elemental phase for {', '.join(missing)}: a phase diagram needs every element"
        )
    return PhaseDiagram(entries)


def _entry(pd: Any, name: str) -> Any:
    for e in pd.all_entries:
        if e.name == name:
            return e
    raise ValueError(f"phase '{name}' is not in the phase diagram")


def electrochemical_window_V(
    pd: Any, metal: str, composition: Any, below_plating_V: float = 1.0
) -> dict[str, Any]:
    """Reduction and oxidation limits of a composition vs M/M+ (grand potential, M open).

    Parameters
    ----------
    pd : PhaseDiagram
        Must hold a phase of this composition on the hull (the element profile is
        evaluated for it).
    metal : str
        Open element, e.g. ``"Li"``; one electron per ion (M -> M+ + e-).
    composition : pymatgen Composition or str
    below_plating_V : float
        How far below 0 V the reduction onset is searched (V). The metal's own entries are
        raised by this much per atom, which opens chemical potentials above the metal's
        (negative voltages) without changing any other phase.

    Returns
    -------
    dict
        ``reduction_limit_V`` (``0.0`` when the phase takes up no metal above plating),
        ``reduction_onset_V`` (signed voltage of the first reduction, negative when it lies
        below plating; ``None`` when nothing happens above ``-below_plating_V``),
        ``oxidation_limit_V`` (``None`` when the library holds nothing it can give its
        metal up to), ``reduction_reaction``, ``oxidation_reaction`` (str or None) and
        ``profile``: list of (V, metal taken up per formula unit, reaction) for each
        stage, from the most reducing stage on.

    Raises
    ------
    ValueError
        The composition has no stability range (it is not on the hull).
    """
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
    from pymatgen.core import Composition, Element

    comp = Composition(composition)
    el = Element(metal)
    mu0 = pd.el_refs[el].energy_per_atom
    entries = [
        PDEntry(e.composition, e.energy + below_plating_V * e.composition.num_atoms, name=e.name)
        if e.composition.is_element and e.composition.elements[0] == el
        else e
        for e in pd.all_entries
    ]
    raised = PhaseDiagram(entries) if below_plating_V > 0 else pd
    profile = raised.get_element_profile(el, comp)  # ordered by decreasing chemical potential
    stages = [
        (-(float(p["chempot"]) - mu0), float(p["evolution"]), str(p["reaction"])) for p in profile
    ]
    stable = [i for i, (_, evo, _) in enumerate(stages) if abs(evo) < 1e-6]
    if not stable:
        raise ValueError(f"{comp.reduced_formula} has no stability range: it is not on the hull")
    i = stable[0]
    # stage i holds for mu between its own chempot (upper bound) and the next one
    onset = stages[i][0] if i > 0 else None
    red_reaction = stages[i - 1][2] if i > 0 else None
    if i + 1 < len(stages):
        oxidation: float | None = stages[i + 1][0]
        ox_reaction: str | None = stages[i + 1][2]
    else:
        oxidation, ox_reaction = None, None
    return {
        "reduction_limit_V": 0.0 if onset is None else max(0.0, onset),
        "reduction_onset_V": onset,
        "oxidation_limit_V": oxidation,
        "reduction_reaction": red_reaction,
        "oxidation_reaction": ox_reaction,
        "profile": [(v, evo, rxn) for v, evo, rxn in stages],
    }


def _formulas(entries: Any) -> list[str]:
    return sorted({e.composition.reduced_formula for e in entries})


def analyse_stability(pd: Any, metal: str, electrolyte: str) -> StabilityAnalysis:
    """Hull distance, reaction with the metal, metal-rich products and window.

    Parameters
    ----------
    pd : PhaseDiagram
        From `build_phase_diagram`; holds the metal's element and the electrolyte entry.
    metal : str
        Element symbol of the metal (``"Li"``); it must be an element of the electrolyte's
        system for the window (it always is for the reaction).
    electrolyte : str
        Name of the electrolyte's entry in ``pd``.

    Returns
    -------
    StabilityAnalysis

    Raises
    ------
    ValueError
        Unknown entry names, or a metal that is not an element of the phase diagram.
    """
    from pymatgen.analysis.interface_reactions import InterfacialReactivity
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
    from pymatgen.analysis.reaction_calculator import ReactionError
    from pymatgen.core import Composition, Element

    el = Element(metal)
    if el not in pd.elements:
        raise ValueError(f"metal {metal} is not an element of the phase diagram")
    entry = _entry(pd, electrolyte)
    comp = entry.composition
    warnings: list[str] = []
    decomp, e_hull = pd.get_decomp_and_e_above_hull(entry, allow_negative=True)
    e_hull = float(max(e_hull, 0.0))
    decomposition = {
        e.composition.reduced_formula: float(frac) for e, frac in decomp.items() if frac > 1e-8
    }

    # Reaction with the metal, measured from the hull energy of the electrolyte's
    # composition: a metastable electrolyte's own decomposition (E_hull, reported apart)
    # is not counted as a reaction with the metal.
    metal_comp = Composition(metal)
    try:
        with _quiet():
            reactivity = InterfacialReactivity(
                comp, metal_comp, pd, norm=True, use_hull_energy=True
            )
            kinks = [
                (
                    float(k[1]),
                    float(k[2]),
                    str(k[3]),
                    sorted({c.reduced_formula for c in k[3].products}),
                )
                for k in reactivity.get_kinks()
            ]
    except ReactionError as exc:
        # pymatgen cannot balance some trivial reactions of large fractional compositions
        # (e.g. LLZO -> LLZO at x = 1); the same kinks follow from the critical compositions
        kinks = _kinks_direct(pd, comp, metal_comp, pd.get_hull_energy_per_atom(comp))
        warnings.append(
            f"InterfacialReactivity failed ({exc}); the reaction curve was computed from "
            "the same critical compositions with PhaseDiagram directly"
        )
    curve = [(k[0], k[1]) for k in kinks]
    i_min = min(range(len(kinks)), key=lambda i: kinks[i][1])
    e_min = kinks[i_min][1]
    reacts = e_min < -REACTION_TOL_EV_PER_ATOM
    x_min = kinks[i_min][0] if reacts else 1.0
    reaction = kinks[i_min][2] if reacts else f"{comp.reduced_formula}: no reaction"

    # phases in equilibrium with the metal along the metal-electrolyte line
    xs = sorted(x for x, _ in curve)
    interior = [x for x in xs if 1e-9 < x < 1 - 1e-9]
    x_probe = 0.5 * (interior[0] if interior else 1.0)
    probe = Composition(
        {
            e: x_probe * comp.fractional_composition[e]
            + (1 - x_probe) * metal_comp.fractional_composition[e]
            for e in set(comp.elements) | {el}
        }
    )
    probe_phases = pd.get_decomposition(probe)
    metal_rich = sorted(
        f for f in _formulas(e for e, a in probe_phases.items() if a > 1e-8) if f != metal
    )
    if not reacts:
        # nothing forms at the contact: a metastable electrolyte's own decomposition
        # products (``decomposition``) are not an interphase made by the metal
        metal_rich = []
        if e_hull > 1e-9:
            warnings.append(
                f"{comp.reduced_formula} is {1000 * e_hull:.0f} meV/atom above the hull with "
                f"this calculator (on its own it would decompose to "
                f"{' + '.join(sorted(decomposition))}); the metal adds no further reaction"
            )
    products_min = kinks[i_min][3] if reacts else []

    # electrochemical window from the grand-potential profile
    window_pd = pd
    convention = "on the hull: window of the computed phase"
    if e_hull > 1e-9:
        lowered = PDEntry(comp, entry.energy - (e_hull + 1e-4) * comp.num_atoms, name="_hull")
        window_pd = PhaseDiagram([*pd.all_entries, lowered])
        convention = (
            f"{comp.reduced_formula} is {1000 * e_hull:.0f} meV/atom above the hull; its window "
            "is that of the same composition brought onto the hull (metastable-phase convention)"
        )
        warnings.append(convention)
    with _quiet():
        window = electrochemical_window_V(window_pd, metal, comp)
    return StabilityAnalysis(
        metal=metal,
        electrolyte_formula=comp.reduced_formula,
        energy_above_hull_eV_per_atom=e_hull,
        decomposition=decomposition,
        reaction_energy_eV_per_atom=min(e_min, 0.0) if reacts else 0.0,
        mixing_ratio=x_min,
        reaction=reaction,
        reacts=reacts,
        products_at_minimum=products_min,
        products_metal_rich=metal_rich,
        reaction_curve=sorted(curve),
        reduction_limit_V=window["reduction_limit_V"],
        reduction_onset_V=window["reduction_onset_V"],
        oxidation_limit_V=window["oxidation_limit_V"],
        reduction_reaction=window["reduction_reaction"],
        oxidation_reaction=window["oxidation_reaction"],
        window_convention=convention,
        stable_phases=_formulas(pd.stable_entries),
        warnings=warnings,
    )


def _kinks_direct(
    pd: Any, electrolyte: Any, metal: Any, e_electrolyte_eV_per_atom: float
) -> list[tuple[float, float, str, list[str]]]:
    """Kinks of the reaction curve from `PhaseDiagram.get_critical_compositions`.

    Same definition as pymatgen's `InterfacialReactivity` (norm=True, use_hull_energy=True,
    ``e_electrolyte_eV_per_atom`` the hull energy of the electrolyte's composition):
    ``E(x) = E_hull(c(x)) - x E_electrolyte - (1 - x) E_metal`` per atom,
    with ``c(x) = x c_electrolyte + (1 - x) c_metal`` in atom fractions.

    Returns
    -------
    list of (x, E eV/atom, reaction text, product formulas), ``x`` ascending.
    """
    e1 = electrolyte.fractional_composition
    e2 = metal.fractional_composition
    metal_el = metal.elements[0]
    e_metal = pd.el_refs[metal_el].energy_per_atom
    out = []
    for c in pd.get_critical_compositions(e1, e2):
        c = c.fractional_composition
        denominator = e2[metal_el] - e1[metal_el]
        x = float((e2[metal_el] - c[metal_el]) / denominator)
        x = min(max(x, 0.0), 1.0)
        energy = pd.get_hull_energy_per_atom(c) - x * e_electrolyte_eV_per_atom
        energy -= (1 - x) * e_metal
        decomp = pd.get_decomposition(c)
        products = sorted({e.composition.reduced_formula for e, a in decomp.items() if a > 1e-8})
        text = (
            f"{x:.4f} {electrolyte.reduced_formula} + {1 - x:.4f} {metal.reduced_formula} -> "
            + " + ".join(
                f"{a:.4f} {e.composition.reduced_formula}" for e, a in decomp.items() if a > 1e-8
            )
            + " (per atom)"
        )
        out.append((x, float(energy), text, products))
    return sorted(out)


def classify_interphase(
    products: Sequence[str], characters: Mapping[str, Mapping[str, Any]]
) -> tuple[str, list[str]]:
    """The interphase class of a set of products from their ionic/electronic character.

    Parameters
    ----------
    products : sequence of str
        Reduced formulas of the products in contact with the metal (empty: no reaction).
    characters : mapping
        Reduced formula -> ``{"electronic": "insulator" | "semiconductor" | "conductor",
        "ionic": "conductor" | "poor", "redox_active": bool}``.

    Returns
    -------
    (str, list of str)
        One key of `INTERPHASE_CLASSES` and the reasons (one line per product).

    Notes
    -----
    Precedence: any electronic conductor -> ``mixed_conducting``; else any redox-active
    product -> ``redox_active``; else at least one ionic conductor -> ``stable_sei``;
    else ``blocking``. Semiconductors count as electronic insulators (with a reason).
    """
    if not products:
        return "none", ["no products: the electrolyte is in equilibrium with the metal"]
    unknown = [p for p in products if p not in characters]
    reasons = []
    for p in products:
        c = characters.get(p)
        if c is None:
            reasons.append(f"{p}: character not in the library")
            continue
        reasons.append(
            f"{p}: electronic {c['electronic']}, ionic {c['ionic']}"
            + (", redox-active" if c.get("redox_active") else "")
        )
    if unknown:
        return "unknown", reasons
    chars = [characters[p] for p in products]
    if any(c["electronic"] == "conductor" for c in chars):
        return "mixed_conducting", reasons
    if any(c.get("redox_active") for c in chars):
        return "redox_active", reasons
    if any(c["ionic"] == "conductor" for c in chars):
        return "stable_sei", reasons
    return "blocking", reasons


class _quiet:
    """Silence pymatgen's warnings inside a block (they do not change the numbers)."""

    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)
