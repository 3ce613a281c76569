"""``ssbflow adhesion``: work of adhesion, interface energy and wetting."""

from __future__ import annotations

from pathlib import Path

import typer
from jobflow import Flow
from rich.console import Console
from rich.table import Table

from ssbflow.commands._common import (
    CALCULATOR_KWARGS_OPTION,
    DATA_DIR_OPTION,
    JSON_OPTION,
    emit_json,
    fmt,
    get_mode,
    load_settings,
    parse_calculator_kwargs,
    parse_miller,
    print_warnings,
    require_positive,
    run_command_flow,
    write_structures,
)
from ssbflow.errors import InputError
from ssbflow.settings import SsbflowSettings


def adhesion_summary_json(doc: dict, uuid: str) -> dict:
    """The ``--json`` object of ``ssbflow adhesion``."""
    keys = (
        "work_of_adhesion_J_per_m2",
        "work_of_adhesion_ideal_J_per_m2",
        "interface_energy_J_per_m2",
        "metal_surface_energy_J_per_m2",
        "electrolyte_surface_energy_J_per_m2",
        "contact_angle_deg",
        "wetting",
        "strain_percent",
        "n_atoms",
        "area_A2",
        "equilibrium_gap_A",
        "calculator",
        "status",
        "failure_reason",
        "system",
        "selected_label",
        "n_candidates",
        "n_relaxed",
        "n_force_evaluations",
        "electrolyte_termination",
        "electrolyte_termination_chemistry",
        "electrolyte_reference_symmetric",
        "reactive",
        "reactive_candidates",
        "headline",
        "metal_surface_termination",
        "metal_surface_converged",
        "selection_criterion",
        "chemical_potentials",
    )
    out = {k: doc.get(k) for k in keys}
    out["warnings"] = list(doc.get("warnings") or [])
    out["stability"] = doc.get("stability")
    out["electrolyte_faces"] = list(doc.get("electrolyte_faces") or [])
    out["uuid"] = uuid
    out["metal_miller"] = list(doc.get("metal_miller") or [])
    out["electrolyte_miller"] = list(doc.get("electrolyte_miller") or [])
    out["headline_level_of_theory"] = doc.get("headline_level_of_theory")
    out["refinement"] = doc.get("refinement")
    out["candidates"] = [
        {
            k: c.get(k)
            for k in (
                "label",
                "status",
                "metal_termination",
                "electrolyte_termination",
                "registry_index",
                "strain_percent",
                "n_atoms",
                "work_of_adhesion_ideal_initial_gap_J_per_m2",
                "work_of_adhesion_ideal_J_per_m2",
                "work_of_adhesion_J_per_m2",
                "interface_energy_J_per_m2",
                "contact_angle_deg",
                "failure_reason",
                "electrolyte_termination_chemistry",
                "electrolyte_reference_termination",
                "electrolyte_reference_symmetric",
                "electrolyte_reference_stoichiometric",
                "electrolyte_surface_energy_J_per_m2",
                "interface_energy_reason",
                "reactive",
                "migrated",
                "max_normal_displacement_A",
                "n_atoms_crossed",
                "flags",
            )
        }
        for c in doc.get("candidates", [])
    ]
    return out


#: (column title, key of RefinedNumbers, number format) of the ML-vs-DFT table.
_REFINED_COLUMNS = (
    ("W_ad (J/m²)", "work_of_adhesion_J_per_m2", ".3f"),
    ("γ_face (J/m²)", "electrolyte_surface_energy_J_per_m2", ".3f"),
    ("γ_metal (J/m²)", "metal_surface_energy_J_per_m2", ".3f"),
    ("γ_int (J/m²)", "interface_energy_J_per_m2", ".3f"),
    ("θ (deg)", "contact_angle_deg", ".1f"),
)


def _print_refinement(console: Console, block: dict) -> None:
    """ML and DFT side by side for each refined candidate, and the DFT surface series."""
    what = "DFT relaxation from the ML geometry" if block.get("relaxed") else "DFT single points"
    ml_level = block.get("ml_level_of_theory") or "ML"
    table = Table(
        title=f"DFT refinement of the top {block.get('top_k')} ML candidates: "
        f"{block.get('level_of_theory')} ({what}) beside {ml_level}"
    )
    table.add_column("candidate")
    table.add_column("level")
    for title, _key, _spec in _REFINED_COLUMNS:
        table.add_column(title, justify="right")
    table.add_column("wetting")
    table.add_column("status / note")
    for c in block.get("candidates") or []:
        rank = f" (ML #{c['ml_rank']})" if c.get("ml_rank") else ""
        for level, numbers, note in (
            ("ML", c.get("ml") or {}, ""),
            ("DFT", c.get("dft") or {}, c.get("failure_reason") or "; ".join(c.get("notes") or [])),
        ):
            table.add_row(
                f"{c['label']}{rank}" if level == "ML" else "",
                level,
                *(fmt(numbers.get(key), spec) for _t, key, spec in _REFINED_COLUMNS),
                str(numbers.get("wetting") or "—"),
                (c.get("status") or "") if level == "ML" else note,
            )
    console.print(table)
    series = block.get("surface_series") or []
    if series:
        st = Table(title="surface energies: DFT single points of the ML slabs (J/m²)")
        for col in ("face", "thickness (Å)", "γ ML", "γ DFT", "DFT converged", "note"):
            st.add_column(col)
        for s in series:
            st.add_row(
                s.get("face") if s.get("face") == "metal" else f"electrolyte {s.get('face')}",
                ", ".join(f"{t:.1f}" for t in s.get("thicknesses_A") or []),
                ", ".join(fmt(g) for g in s.get("ml_surface_energies_J_per_m2") or []),
                ", ".join(fmt(g) for g in s.get("dft_surface_energies_J_per_m2") or []),
                str(s.get("dft_converged")),
                s.get("failure_reason") or "",
            )
        console.print(st)
    console.print(
        f"DFT work: {block.get('n_dft_single_points', 0)} single points, "
        f"{block.get('n_dft_relaxation_steps', 0)} relaxation steps"
    )


def _print_table(doc: dict, uuid: str, written: list[Path]) -> None:
    console = Console()
    level = doc.get("headline_level_of_theory")
    title = f"{doc['system']} adhesion ({doc['calculator']})"
    if doc.get("refinement"):
        title = f"{doc['system']} adhesion, headline at the {level or '—'} level"
    table = Table(title=title)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_column("unit")
    rows = [
        ("work of adhesion W_ad (relaxed)", fmt(doc.get("work_of_adhesion_J_per_m2")), "J/m²"),
        (
            "work of adhesion (ideal, UBER)",
            fmt(doc.get("work_of_adhesion_ideal_J_per_m2")),
            "J/m²",
        ),
        ("interface energy γ_int", fmt(doc.get("interface_energy_J_per_m2")), "J/m²"),
        ("metal surface energy γ_metal", fmt(doc.get("metal_surface_energy_J_per_m2")), "J/m²"),
        (
            f"electrolyte face energy ({doc.get('electrolyte_termination_chemistry') or '—'})",
            fmt(doc.get("electrolyte_surface_energy_J_per_m2")),
            "J/m²",
        ),
        ("contact angle θ", fmt(doc.get("contact_angle_deg"), ".1f"), "deg"),
        ("wetting", str(doc.get("wetting")), ""),
        ("strain (metal)", fmt(doc.get("strain_percent"), ".2f"), "%"),
        ("atoms in interface", str(doc.get("n_atoms")), ""),
        ("equilibrium gap", fmt(doc.get("equilibrium_gap_A"), ".2f"), "Å"),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if doc.get("headline"):
        console.print(doc["headline"])
    if level:
        console.print(f"level of theory of the headline numbers: {level}")
    if doc.get("stability"):
        from ssbflow.commands.stability import stability_line

        console.print(stability_line(doc["metal"], doc["electrolyte"], doc["stability"]))
    faces = doc.get("electrolyte_faces") or []
    if faces:
        ft = Table(title="electrolyte faces (symmetric slabs, metal-rich limit Δμ_M = 0)")
        for col in ("termination", "γ (J/m²)", "dγ/dΔμ_M", "stoich.", "converged", "note"):
            ft.add_column(col)
        for f in faces:
            ft.add_row(
                f["termination"],
                fmt(f.get("surface_energy_J_per_m2")),
                fmt(f.get("dgamma_d_delta_mu_metal_J_per_m2_per_eV")),
                str(f.get("stoichiometric")),
                str(f.get("converged")),
                "polar: no symmetric slab" if f.get("polar") else (f.get("failure_reason") or ""),
            )
        console.print(ft)
    cands = Table(title="candidates (terminations × registries)")
    for col in (
        "label",
        "electrolyte contact face",
        "γ_face",
        "W_ad rigid",
        "W_ad ideal",
        "W_ad relaxed",
        "γ_int",
        "max Δz (Å)",
        "status",
        "flags",
    ):
        cands.add_column(col)
    for c in doc.get("candidates", []):
        chem = c.get("electrolyte_termination_chemistry") or ""
        cands.add_row(
            c["label"],
            f"{chem} ({c['electrolyte_termination']})",
            fmt(c.get("electrolyte_surface_energy_J_per_m2")),
            fmt(c.get("work_of_adhesion_ideal_initial_gap_J_per_m2")),
            fmt(c.get("work_of_adhesion_ideal_J_per_m2")),
            fmt(c.get("work_of_adhesion_J_per_m2")),
            fmt(c.get("interface_energy_J_per_m2")),
            fmt(c.get("max_normal_displacement_A"), ".2f"),
            c["status"],
            ", ".join(c.get("flags") or []),
        )
    console.print(cands)
    if doc.get("refinement"):
        _print_refinement(console, doc["refinement"])
    print_warnings(console, doc)
    console.print(f"uuid: {uuid}")
    if written:
        console.print(f"structures written to {written[0].parent}")


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether option ``name`` was given on the command line (not left at its default)."""
    source = ctx.get_parameter_source(name)
    # by name: typer >= 0.26 bundles its own click, whose enum is not click's
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def _parse_refine(
    ctx: typer.Context, refine: str | None, refine_top: int, refine_relax: bool, n_relax: int
):
    """The `RefineSpec` of ``--refine`` (None without it), from the text alone.

    Raises
    ------
    InputError
        Bad ``--refine`` text, ``--refine-top`` out of range or above ``--n-relax``, or
        ``--refine-top``/``--refine-relax`` without ``--refine``.
    """
    if refine is None:
        for given, flag in (
            (_given(ctx, "refine_top"), "--refine-top"),
            (refine_relax, "--refine-relax"),
        ):
            if given:  # not ignored silently
                raise InputError(
                    f"{flag} needs --refine BACKEND, e.g. --refine gpaw:fast", field=flag
                )
        return None
    from ssbflow.workflows.refine import RefineSpec

    spec = RefineSpec.parse(refine)  # InputError(field="refine") -> --refine
    require_positive(refine_top, "--refine-top", 20)
    if refine_top > n_relax:
        raise InputError(
            f"--refine-top {refine_top} is more than --n-relax {n_relax}: only relaxed "
            "candidates are refined; raise --n-relax or lower --refine-top",
            field="--refine-top",
        )
    return spec


def _refine_maker(
    ctx: typer.Context, spec, refine: str, refine_top: int, refine_relax: bool, elements: set[str]
):
    """The `RefineMaker` of ``spec``, after checking that its DFT code can run ``elements``.

    GPAW: installed, with PAW setups for every element at the preset. VASP, for a local
    run: the executable and the POTCAR folder are there (a submitted study is not checked
    here: it runs where the worker is).
    """
    from ssbflow.workflows.refine import refine_maker_for

    if spec.backend == "gpaw":
        from ssbflow.calculators import check_calculator

        try:
            check_calculator("gpaw", elements, {"preset": spec.preset or "standard"})
        except InputError as exc:
            raise InputError(f"--refine {refine}: {exc}", field="--refine") from exc
    elif not get_mode(ctx).submit:
        _check_vasp_here(refine)
    return refine_maker_for(spec, top_k=refine_top, relax=refine_relax)


def _check_vasp_here(refine: str) -> None:
    """InputError unless VASP can run on this machine (a local ``--refine vasp`` run).

    A submitted study is not checked here: it runs where the worker is.
    """
    import os
    import shlex
    import shutil

    from atomate2 import SETTINGS
    from pymatgen.core import SETTINGS as PMG_SETTINGS

    words = shlex.split(str(SETTINGS.VASP_CMD or "vasp_std")) or ["vasp_std"]
    exe = next((w for w in words if "vasp" in w.lower()), words[0])
    if shutil.which(exe) is None:
        raise InputError(
            f"--refine {refine}: the VASP executable '{exe}' (atomate2 VASP_CMD) is not on "
            "this machine's PATH; submit the study to a machine with VASP ('ssbflow submit "
            "adhesion ... --refine vasp') or use --refine gpaw",
            field="--refine",
        )
    if not (os.environ.get("PMG_VASP_PSP_DIR") or PMG_SETTINGS.get("PMG_VASP_PSP_DIR")):
        raise InputError(
            f"--refine {refine}: no VASP POTCAR folder (set PMG_VASP_PSP_DIR); submit the "
            "study to a machine with VASP or use --refine gpaw",
            field="--refine",
        )


def adhesion(
    ctx: typer.Context,
    metal: str = typer.Argument(..., help="Metal: library name (Li, Na, K) or structure file."),
    electrolyte: str = typer.Argument(..., help="Electrolyte: library name or structure file."),
    metal_miller: str = typer.Option("1,0,0", help="Metal contact plane, e.g. 1,0,0."),
    electrolyte_miller: str = typer.Option("1,1,1", help="Electrolyte contact plane."),
    calculator: str = typer.Option(
        None, help="chgnet (default), sevennet, emt, gpaw, or module:Class."
    ),
    calculator_kwargs: str = CALCULATOR_KWARGS_OPTION,
    max_strain: float = typer.Option(0.05, help="Largest in-plane strain on the metal (fraction)."),
    max_area: float = typer.Option(200.0, help="Largest interface area searched, Å²."),
    max_atoms: int = typer.Option(300, help="Largest interface cell, atoms."),
    metal_layers: int = typer.Option(3, help="Metal slab thickness, unit planes."),
    electrolyte_layers: int = typer.Option(2, help="Electrolyte slab thickness, unit planes."),
    registry_grid: int = typer.Option(2, help="n×n in-plane registry shifts."),
    n_relax: int = typer.Option(2, help="Candidates relaxed after screening."),
    termination: str = typer.Option(None, help="Only electrolyte terminations containing this."),
    output: Path = typer.Option(None, help="Folder for CIF/POSCAR files."),
    stability: bool = typer.Option(
        True,
        "--stability/--no-stability",
        help="Also compute the pair's thermodynamic stability (library phases only).",
    ),
    refine: str = typer.Option(
        None,
        "--refine",
        help="Refine the best ML candidates with DFT: gpaw, gpaw:fast, gpaw:standard, "
        "gpaw:accurate (PBE; default preset standard) or vasp (atomate2; needs VASP).",
    ),
    refine_top: int = typer.Option(
        2, "--refine-top", help="Relaxed ML candidates refined with DFT (best first)."
    ),
    refine_relax: bool = typer.Option(
        False,
        "--refine-relax/--no-refine-relax",
        help="Relax the refined interfaces and slabs briefly with DFT, from the ML "
        "geometry (default: DFT single points of the ML geometry).",
    ),
    data_dir: Path = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> int:
    """Work of adhesion, interface energy and contact angle of METAL on ELECTROLYTE."""
    from ssbflow.calculators import check_calculator
    from ssbflow.structures.library import load_structure
    from ssbflow.workflows.adhesion import AdhesionMaker, check_metal

    settings = load_settings(data_dir)
    fields = {
        "metal_miller": parse_miller(metal_miller, "--metal-miller"),
        "electrolyte_miller": parse_miller(electrolyte_miller, "--electrolyte-miller"),
        "max_strain": max_strain,
        "max_area_A2": max_area,
        "max_atoms": max_atoms,
        "metal_layers": metal_layers,
        "electrolyte_layers": electrolyte_layers,
        "registry_grid": registry_grid,
        "n_relax": n_relax,
        "electrolyte_termination": termination,
    }
    AdhesionMaker(**fields).validate()  # the maker's bounds, before anything is loaded
    spec = _parse_refine(ctx, refine, refine_top, refine_relax, n_relax)
    metal_s = load_structure(metal)
    electrolyte_s = load_structure(electrolyte)
    check_metal(metal_s, metal)
    calc = calculator or settings.default_calculator
    kwargs = parse_calculator_kwargs(calculator_kwargs)
    elements = {el.symbol for s in (metal_s, electrolyte_s) for el in s.composition.elements}
    calc = check_calculator(calc, elements, kwargs)
    refine_maker = None
    if spec is not None:
        refine_maker = _refine_maker(ctx, spec, refine, refine_top, refine_relax, elements)
    stability_maker = None
    if stability:
        from ssbflow.workflows.stability import optional_stability_maker

        stability_maker, why = optional_stability_maker(calc, kwargs, metal, electrolyte)
        if why:  # said, not hidden: the study runs without the stability block
            typer.echo(f"note: no stability block for this pair ({why})", err=True)
    maker = AdhesionMaker.from_calculator(
        calc, kwargs, refine_maker=refine_maker, stability_maker=stability_maker, **fields
    )
    # fail fast, before anything is stored: the limits must admit a candidate
    maker = maker.check_inputs(metal_s, electrolyte_s)
    m_name = Path(metal).stem if Path(metal).is_file() else metal
    e_name = Path(electrolyte).stem if Path(electrolyte).is_file() else electrolyte
    flow = maker.make(metal_s, electrolyte_s, metal_name=m_name, electrolyte_name=e_name)
    out_dir = output or Path(f"adhesion_{m_name}_{e_name}")
    return _run_and_report(ctx, flow, settings, refine_maker is not None, out_dir, as_json)


def _run_and_report(
    ctx: typer.Context,
    flow: Flow,
    settings: SsbflowSettings,
    refined: bool,
    out_dir: Path,
    as_json: bool,
) -> int:
    """Run (or submit) the study, print its summary and return the exit code.

    With a DFT refinement (``refined``) the refined summary is shown; when the refinement
    left none, the ML study's summary is shown with a warning, and the exit code is 1.
    """
    final_uuid = flow.jobs[-1].uuid
    ml_uuid = next(j.uuid for j in reversed(flow.jobs) if j.name == "adhesion summary")
    outcome = run_command_flow(
        ctx, flow, settings, summary_uuids=list(dict.fromkeys([final_uuid, ml_uuid]))
    )
    if outcome is None:  # submitted
        return 0
    doc, summary_uuid = outcome.document, outcome.uuid
    if doc is None:
        typer.echo(f"ssbflow: error: calculation failed: {outcome.reason}", err=True)
        return 1
    refine_failed = None
    if refined and summary_uuid != final_uuid:
        # the ML study is kept even when its DFT refinement produced no summary
        refine_failed = (
            f"the DFT refinement did not finish ({outcome.failure or 'no refined summary'}); "
            "the numbers shown are the ML study's"
        )
        doc["warnings"] = [*(doc.get("warnings") or []), refine_failed]
    written = []
    if doc.get("structures"):
        written = write_structures(doc["structures"], out_dir)
    if as_json:
        emit_json(adhesion_summary_json(doc, summary_uuid))
    else:
        _print_table(doc, summary_uuid, written)
    if doc.get("status") != "successful":
        typer.echo(f"ssbflow: error: calculation failed: {doc.get('failure_reason')}", err=True)
        return 1
    if refine_failed:
        typer.echo(f"ssbflow: error: {refine_failed}", err=True)
        return 1
    return 0


def register(app: typer.Typer) -> None:
    """Add the ``adhesion`` command."""
    app.command("adhesion")(adhesion)
