"""The curated reference set: published findings that ``ssbflow reproduce`` checks against.

The set ships as ``ssbflow/data/reference_set.csv``: one row per published finding, each
traceable to a place in a source (authors, year, journal, DOI, the table/figure/page or
abstract it was read from, and the page where it was read). Two kinds of finding:

``numeric``
    a value with a unit, e.g. a work of adhesion of 0.9 J/m^2 for Li(100)/Li2O(111);
``products``
    what a metal does to an electrolyte, written ``Metal/Electrolyte -> A + B`` (it
    reacts, and A and B are among the phases in equilibrium with the metal) or
    ``Metal/Electrolyte -> stable`` (no reaction); checked with ``ssbflow stability``.
    Numeric ``reduction_limit``/``oxidation_limit`` rows (V vs M/M+) are the
    ``stability_window`` rows;
``ordering``
    a published ranking, written as a chain of members with one comparison sign, e.g.
    ``Li/Li2O > Li/Li3N > Li/Li3PO4`` or ``Cu(111) < Cu(100) < Cu(110)``. A member is
    ``Metal(hkl)`` (a free surface) or ``Metal(hkl)/Electrolyte(hkl)`` (an interface);
    a facet left out means "not stated in the source".

Rows whose numbers could not be traced to a source live in
``ssbflow/data/reference_wanted.csv`` instead. Numbers computed by this project itself
(e.g. a GPAW benchmark that a converged series should confirm) are not published findings:
they live in ``ssbflow/data/project_reference.csv`` (same columns, verification
``computed by this project``, no DOI, the locator names the benchmark file), and the report
marks them as project values.

A ``surface_energy`` row is the surface of the ``metal`` column's material, or of the
``electrolyte`` when ``metal`` is blank (e.g. an LLZO facet); ``electrolyte_termination``
then names the surface termination (e.g. ``Li-terminated``). The optional
``chemical_potentials`` column fixes the chemical potentials of off-stoichiometric slabs by
coexistence, ``Li=Li2O; La=La2O3; Zr=Zr`` ("μ_Li as in Li2O, ..."): the bulk and each
named phase are in equilibrium, which fixes every μ. `load_reference_set` validates every row
(DOI present, unit known and matching the quantity, facets parseable, claim parseable,
no duplicate ids or rows) and raises `InputError` naming the first bad row.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ssbflow.errors import InputError

#: Quantities that ``ssbflow reproduce`` can compute, with the unit each is given in.
QUANTITY_UNITS: dict[str, str] = {
    "work_of_adhesion": "J/m^2",
    "interface_energy": "J/m^2",
    "surface_energy": "J/m^2",
    "contact_angle": "deg",
    # thermodynamic stability of an electrolyte against the metal (ssbflow stability)
    "reduction_limit": "V",
    "oxidation_limit": "V",
    "interphase_products": "phases",
}

#: Quantities computed by the stability workflow (``stability_window`` rows and claims).
STABILITY_QUANTITIES = frozenset({"reduction_limit", "oxidation_limit", "interphase_products"})

#: Units the reference set may use (every quantity above maps to one of them).
KNOWN_UNITS = frozenset(QUANTITY_UNITS.values())

#: Verification statuses of a row.
READ_IN_SOURCE = "read in the source"
QUOTED = "quoted by another work"
#: A value computed by ssbflow itself (project reference file only): a regression target,
#: not a published finding.
PROJECT = "computed by this project"

CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "kind",
    "quantity",
    "relaxation",
    "definition",
    "metal",
    "metal_structure",
    "metal_facet",
    "electrolyte",
    "electrolyte_facet",
    "electrolyte_termination",
    "strain_or_cell",
    "claim",
    "value",
    "unit",
    "level_of_theory",
    "authors",
    "year",
    "journal",
    "doi",
    "locator",
    "read_at_url",
    "verification",
    "quoted_by",
    "original_text",
    "notes",
    "chemical_potentials",
)

#: Columns a reference file may leave out of its header (blank for every row).
OPTIONAL_COLUMNS = frozenset({"chemical_potentials"})

_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_MEMBER = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_.\-]*)\s*(?:\(([^()]*)\))?\s*$")


def default_reference_path() -> Path:
    """Path of the reference set shipped with ssbflow."""
    return Path(str(files("ssbflow") / "data" / "reference_set.csv"))


def default_project_reference_path() -> Path:
    """Path of the project's own reference values (computed by ssbflow, not published)."""
    return Path(str(files("ssbflow") / "data" / "project_reference.csv"))


def default_wanted_path() -> Path:
    """Path of the list of wanted (not yet read) references shipped with ssbflow."""
    return Path(str(files("ssbflow") / "data" / "reference_wanted.csv"))


def parse_facet(text: str | None) -> tuple[int, int, int] | None:
    """Parse a facet written as ``111``, ``(1 1 0)``, ``1,0,0``, ``-1,1,0`` or ``10-10``.

    Four-index Miller-Bravais indices (h, k, i, l) with ``i = -(h + k)`` are converted
    to (h, k, l) (`ssbflow.structures.slabs.parse_miller`).

    Parameters
    ----------
    text
        The facet text; empty or None means "not stated".

    Returns
    -------
    tuple of int or None
        The Miller index, or None when no facet is given.

    Raises
    ------
    ValueError
        When the text is not a Miller index (an `InputError`; reference loading adds the
        row it is in).
    """
    from ssbflow.structures.slabs import parse_miller

    if text is None or not text.strip().strip("()[]{}").strip():
        return None
    return parse_miller(text, "facet", bravais=True)


def format_facet(facet: Sequence[int] | None) -> str:
    """``(1,1,0)`` -> ``"110"`` (``"-110"`` for negatives); None -> ``"not stated"``."""
    if facet is None:
        return "not stated"
    if all(0 <= v < 10 for v in facet):
        return "".join(str(v) for v in facet)
    return ",".join(str(v) for v in facet)


@dataclass(frozen=True)
class ClaimMember:
    """One member of an ordering claim: a free surface or a metal/electrolyte interface."""

    metal: str
    metal_facet: tuple[int, int, int] | None
    electrolyte: str | None = None
    electrolyte_facet: tuple[int, int, int] | None = None

    @property
    def label(self) -> str:
        """Readable label, e.g. ``Li(100)/Li2O`` or ``Cu(111)``."""
        metal = self.metal + (f"({format_facet(self.metal_facet)})" if self.metal_facet else "")
        if self.electrolyte is None:
            return metal
        el = self.electrolyte
        el += f"({format_facet(self.electrolyte_facet)})" if self.electrolyte_facet else ""
        return f"{metal}/{el}"


@dataclass(frozen=True)
class Claim:
    """A parsed ordering claim: members in the published order and the comparison sign."""

    members: tuple[ClaimMember, ...]
    direction: Literal[">", "<"]


def _parse_member(text: str) -> ClaimMember:
    parts = text.split("/")
    if len(parts) > 2:
        raise ValueError(f"claim member '{text}' has more than one '/'")
    parsed = []
    for part in parts:
        match = _MEMBER.match(part)
        if match is None:
            raise ValueError(
                f"claim member '{text}' is not 'Name(hkl)' or 'Metal(hkl)/Electrolyte(hkl)'"
            )
        parsed.append((match.group(1), parse_facet(match.group(2))))
    if len(parsed) == 1:
        return ClaimMember(metal=parsed[0][0], metal_facet=parsed[0][1])
    return ClaimMember(
        metal=parsed[0][0],
        metal_facet=parsed[0][1],
        electrolyte=parsed[1][0],
        electrolyte_facet=parsed[1][1],
    )


def parse_claim(text: str) -> Claim:
    """Parse ``"A > B > C"`` or ``"A < B"`` into a `Claim`.

    Raises
    ------
    ValueError
        Mixed or missing comparison signs, fewer than two members, repeated members or
        malformed members.
    """
    signs = set(re.findall(r"[<>]", text))
    if len(signs) != 1:
        raise ValueError(
            f"claim '{text}' must use exactly one kind of comparison sign (all '>' or all '<')"
        )
    direction = signs.pop()
    members = tuple(_parse_member(p) for p in text.split(direction))
    if len(members) < 2:
        raise ValueError(f"claim '{text}' needs at least two members")
    if len({m.label for m in members}) != len(members):
        raise ValueError(f"claim '{text}' repeats a member")
    return Claim(members=members, direction=direction)  # type: ignore[arg-type]


def parse_products_claim(text: str) -> tuple[str, str, tuple[str, ...] | None]:
    """Parse ``"Li/Li3PS4 -> Li2S + Li3P"`` or ``"Li/Li2O -> stable"``.

    Returns
    -------
    (metal, electrolyte, products)
        ``products`` is None for ``stable`` (no reaction with the metal).

    Raises
    ------
    ValueError
        Not of the form ``Metal/Electrolyte -> A + B`` or ``Metal/Electrolyte -> stable``.
    """
    pair, sep, rhs = text.partition("->")
    names = [p.strip() for p in pair.split("/")]
    if not sep or len(names) != 2 or not all(_MEMBER.match(n) for n in names) or not rhs.strip():
        raise ValueError(
            f"products claim '{text}' must read 'Metal/Electrolyte -> A + B' or "
            "'Metal/Electrolyte -> stable'"
        )
    if rhs.strip().lower() == "stable":
        return names[0], names[1], None
    products = tuple(p.strip() for p in rhs.split("+"))
    if not all(products):
        raise ValueError(f"products claim '{text}' has an empty product")
    return names[0], names[1], products


def parse_chemical_potentials(text: str | None) -> dict[str, str]:
    """Parse ``"Li=Li2O; La=La2O3; Zr=Zr"`` into ``{"Li": "Li2O", "La": "La2O3", "Zr": "Zr"}``.

    Each pair says "μ of this element as in that phase": the phase coexists with the bulk.

    Raises
    ------
    ValueError
        Not ``Element=Phase`` pairs separated by ``;``, an unknown element, or an element
        given twice.
    """
    from ase.data import atomic_numbers

    out: dict[str, str] = {}
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        el, sep, phase = (p.strip() for p in part.partition("="))
        if not sep or not phase or el not in atomic_numbers or not _MEMBER.match(phase):
            raise ValueError(
                f"chemical_potentials '{text}' must be 'Element=Phase' pairs separated by ';', "
                "e.g. 'Li=Li2O; La=La2O3; Zr=Zr'"
            )
        if el in out:
            raise ValueError(f"chemical_potentials '{text}' gives {el} twice")
        out[el] = phase
    return out


def _blank_to_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value


class ReferenceRow(BaseModel):
    """One published finding with its provenance (one CSV row)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(..., description="Unique row id, e.g. 'WJM24-ORD-1'")
    kind: Literal["numeric", "ordering", "products"]
    quantity: Literal[
        "work_of_adhesion",
        "interface_energy",
        "surface_energy",
        "contact_angle",
        "reduction_limit",
        "oxidation_limit",
        "interphase_products",
    ]
    relaxation: Literal["relaxed", "ideal", "not stated"] = Field(
        ..., description="Relaxed (after relaxation) or ideal (rigid, unrelaxed) quantity"
    )
    definition: str = Field(..., min_length=10, description="Exact definition used by the source")
    metal: str
    metal_structure: str | None = Field(
        None, description="'fcc'/'bcc'/'hcp' to build an element; empty: phase library"
    )
    metal_facet: str | None = None
    electrolyte: str | None = None
    electrolyte_facet: str | None = None
    electrolyte_termination: str | None = None
    strain_or_cell: str | None = None
    claim: str | None = None
    value: float | None = None
    unit: str
    level_of_theory: str = Field(..., min_length=3)
    authors: str = Field(..., min_length=3)
    year: int = Field(..., ge=1900, le=2100)
    journal: str = Field(..., min_length=3)
    doi: str | None = Field(None, description="Required except for project values")
    locator: str = Field(..., min_length=3, description="Table, figure, page or 'abstract'")
    read_at_url: str = Field(..., min_length=8, description="Where the value was read")
    verification: Literal[
        "read in the source", "quoted by another work", "computed by this project"
    ]
    quoted_by: str | None = None
    original_text: str = Field(..., min_length=10, description="The text the value was read from")
    notes: str | None = None
    chemical_potentials: str | None = Field(
        None, description="'Li=Li2O; La=La2O3; Zr=Zr': μ of off-stoichiometric slabs by coexistence"
    )

    _blank = field_validator(
        "metal_structure",
        "metal_facet",
        "electrolyte",
        "electrolyte_facet",
        "electrolyte_termination",
        "strain_or_cell",
        "claim",
        "value",
        "quoted_by",
        "notes",
        "doi",
        "chemical_potentials",
        mode="before",
    )(_blank_to_none)

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"id '{value}' must be letters, digits, '-', '_' or '.'")
        return value

    @field_validator("doi")
    @classmethod
    def _check_doi(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not _DOI.match(value):
            raise ValueError(f"DOI '{value}' is missing or not of the form 10.xxxx/...")
        return value

    @field_validator("unit")
    @classmethod
    def _check_unit(cls, value: str) -> str:
        if value not in KNOWN_UNITS:
            raise ValueError(f"unit '{value}' is unknown; use one of {sorted(KNOWN_UNITS)}")
        return value

    @field_validator("metal_structure")
    @classmethod
    def _check_structure(cls, value: str | None) -> str | None:
        if value is not None and value not in {"fcc", "bcc", "hcp"}:
            raise ValueError(f"metal_structure '{value}' must be fcc, bcc, hcp or empty")
        return value

    @field_validator("metal_facet", "electrolyte_facet")
    @classmethod
    def _check_facet(cls, value: str | None) -> str | None:
        parse_facet(value)
        return value

    @field_validator("chemical_potentials")
    @classmethod
    def _check_mu(cls, value: str | None) -> str | None:
        parse_chemical_potentials(value)
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> ReferenceRow:
        expected = QUANTITY_UNITS[self.quantity]
        if self.unit != expected:
            raise ValueError(f"quantity {self.quantity} is given in {expected}, not {self.unit}")
        if self.kind == "numeric":
            if self.value is None:
                raise ValueError("a numeric row needs a value")
            if self.claim is not None:
                raise ValueError("a numeric row has no claim")
            if self.quantity != "surface_energy" and self.electrolyte is None:
                raise ValueError(f"a numeric {self.quantity} row needs an electrolyte")
            if self.quantity == "surface_energy" and not self.metal.strip():
                if self.electrolyte is None:
                    raise ValueError("a surface_energy row needs a metal or an electrolyte")
                if self.electrolyte_miller is None:
                    raise ValueError("a surface_energy row on an electrolyte needs its facet")
        elif self.kind == "products":
            if (
                self.quantity != "interphase_products"
                or self.claim is None
                or self.value is not None
            ):
                raise ValueError(
                    "a products row has quantity interphase_products, no value and a claim "
                    "such as 'Li/Li3PS4 -> Li2S + Li3P' or 'Li/Li2O -> stable'"
                )
            parse_products_claim(self.claim)
        else:
            if self.claim is None:
                raise ValueError("an ordering row needs a claim such as 'A > B > C'")
            if self.value is not None:
                raise ValueError("an ordering row has no value (put the ranking in 'claim')")
            claim = parse_claim(self.claim)
            interface = self.quantity != "surface_energy"
            for member in claim.members:
                if interface and member.electrolyte is None and self.electrolyte is None:
                    raise ValueError(
                        f"claim member '{member.label}' needs an electrolyte for {self.quantity}"
                    )
                if not interface and member.electrolyte is not None:
                    raise ValueError(f"surface-energy claim member '{member.label}' has a '/'")
        if self.verification == QUOTED and not self.quoted_by:
            raise ValueError("a value quoted by another work must name it in quoted_by")
        if self.doi is None and self.verification != PROJECT:
            raise ValueError("DOI is missing; only values computed by this project have none")
        if self.chemical_potentials and self.quantity != "surface_energy":
            raise ValueError("chemical_potentials applies to surface_energy rows only")
        return self

    # -- derived views -------------------------------------------------------------------

    @property
    def metal_miller(self) -> tuple[int, int, int] | None:
        """The metal facet as a Miller index (None: not stated)."""
        return parse_facet(self.metal_facet)

    @property
    def electrolyte_miller(self) -> tuple[int, int, int] | None:
        """The electrolyte facet as a Miller index (None: not stated)."""
        return parse_facet(self.electrolyte_facet)

    @property
    def is_project_value(self) -> bool:
        """True for a number computed by this project (a regression target, not published)."""
        return self.verification == PROJECT

    @property
    def provenance(self) -> str:
        """'published' or 'project value' (for reports)."""
        return "project value" if self.is_project_value else "published"

    @property
    def chemical_potential_phases(self) -> dict[str, str]:
        """``{element: coexisting phase}`` from the chemical_potentials column."""
        return parse_chemical_potentials(self.chemical_potentials)

    @property
    def parsed_claim(self) -> Claim | None:
        """The ordering claim, parsed (None for numeric rows)."""
        return parse_claim(self.claim) if self.claim else None

    def members(self) -> list[ClaimMember]:
        """The systems this row needs: one for a numeric row, the claim's members otherwise.

        Facets and electrolyte not written in a claim member are taken from the row.
        """
        if self.kind == "products":
            metal, electrolyte, _ = parse_products_claim(self.claim or "")
            return [ClaimMember(metal=metal, metal_facet=None, electrolyte=electrolyte)]
        if self.kind == "numeric":
            if self.quantity == "surface_energy" and not self.metal.strip():
                assert self.electrolyte is not None
                return [ClaimMember(metal=self.electrolyte, metal_facet=self.electrolyte_miller)]
            return [
                ClaimMember(
                    metal=self.metal,
                    metal_facet=self.metal_miller,
                    electrolyte=self.electrolyte,
                    electrolyte_facet=self.electrolyte_miller,
                )
            ]
        claim = self.parsed_claim
        assert claim is not None
        out = []
        for m in claim.members:
            electrolyte = m.electrolyte
            if electrolyte is None and self.quantity != "surface_energy":
                electrolyte = self.electrolyte
            out.append(
                ClaimMember(
                    metal=m.metal,
                    metal_facet=m.metal_facet or self.metal_miller,
                    electrolyte=electrolyte,
                    electrolyte_facet=m.electrolyte_facet
                    or (self.electrolyte_miller if electrolyte else None),
                )
            )
        return out

    @property
    def source(self) -> str:
        """Short citation: 'authors (year), journal, doi:..., <locator>'."""
        if self.doi is None:
            return f"{self.authors} ({self.year}), {self.journal}, {self.locator}"
        return f"{self.authors} ({self.year}), {self.journal}, doi:{self.doi}, {self.locator}"


def _read_rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c for c in CSV_COLUMNS if c not in header and c not in OPTIONAL_COLUMNS]
            unknown = [c for c in header if c not in CSV_COLUMNS]
            if missing or unknown:
                raise InputError(
                    f"reference file {path}: missing columns {missing}, unknown columns {unknown}; "
                    f"the header must be: {','.join(CSV_COLUMNS)}"
                )
            return list(reader)
    except OSError as exc:
        raise InputError(f"cannot read reference file {path}: {exc.strerror}") from exc


def load_reference_set(path: Path | str | None = None) -> list[ReferenceRow]:
    """Load and validate a reference set (default: the one shipped with ssbflow).

    Parameters
    ----------
    path
        CSV file with the columns in `CSV_COLUMNS`; None for the shipped set.

    Returns
    -------
    list of ReferenceRow
        In file order.

    Raises
    ------
    InputError
        A row fails validation (the message names the row and the problem), ids or rows
        are duplicated, or the file cannot be read.
    """
    path = Path(path) if path is not None else default_reference_path()
    rows: list[ReferenceRow] = []
    seen_ids: set[str] = set()
    seen_content: dict[tuple, str] = {}
    for line, raw in enumerate(_read_rows(path), start=2):
        label = raw.get("id") or f"line {line}"
        try:
            row = ReferenceRow.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "row"
            msg = first.get("msg", str(exc)).removeprefix("Value error, ")
            raise InputError(f"reference file {path}, row {label}: {where}: {msg}") from exc
        if row.id in seen_ids:
            raise InputError(f"reference file {path}: duplicate id '{row.id}' (line {line})")
        content = (
            row.kind,
            row.quantity,
            row.relaxation,
            row.metal,
            row.metal_facet,
            row.electrolyte,
            row.electrolyte_facet,
            row.electrolyte_termination,
            row.claim,
            row.value,
            row.doi,
            row.locator,
        )
        if content in seen_content:
            raise InputError(
                f"reference file {path}: row {row.id} duplicates row {seen_content[content]}"
            )
        seen_ids.add(row.id)
        seen_content[content] = row.id
        rows.append(row)
    if not rows:
        raise InputError(f"reference file {path} has no rows")
    return rows


def load_default_reference(include_project: bool = True) -> list[ReferenceRow]:
    """The shipped published set, followed by the project's own values (``include_project``).

    The published file may hold no project values and the project file nothing else, so
    a published finding and a project number are never confused.

    Raises
    ------
    InputError
        A file fails validation, a row is in the wrong file, or an id is in both files.
    """
    published = load_reference_set(default_reference_path())
    for row in published:
        if row.is_project_value:
            raise InputError(
                f"reference file {default_reference_path()}: row {row.id} is a project value; "
                f"it belongs in {default_project_reference_path().name}"
            )
    if not include_project:
        return published
    project = load_reference_set(default_project_reference_path())
    for row in project:
        if not row.is_project_value:
            raise InputError(
                f"reference file {default_project_reference_path()}: row {row.id} is not "
                f"'{PROJECT}'; published values belong in {default_reference_path().name}"
            )
    clash = {r.id for r in published} & {r.id for r in project}
    if clash:
        raise InputError(f"reference ids in both shipped files: {', '.join(sorted(clash))}")
    return published + project


def select_rows(rows: Sequence[ReferenceRow], only: Iterable[str] | None) -> list[ReferenceRow]:
    """Rows whose id is in ``only`` (all rows when ``only`` is empty), in file order.

    Raises
    ------
    InputError
        An id in ``only`` is not in the set.
    """
    wanted = [i for i in (only or []) if i]
    if not wanted:
        return list(rows)
    known = {r.id for r in rows}
    unknown = [i for i in wanted if i not in known]
    if unknown:
        raise InputError(
            f"unknown reference id(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
            field="only",
        )
    keep = set(wanted)
    return [r for r in rows if r.id in keep]
