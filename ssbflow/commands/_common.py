"""Pieces shared by the CLI commands: settings, calculator options, run-or-submit, output."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from jobflow import Flow, Job

from ssbflow.errors import InputError
from ssbflow.execution.runner import FlowOutcome
from ssbflow.settings import SsbflowSettings, get_settings

DATA_DIR_OPTION = typer.Option(
    None, "--data-dir", help="Results store folder (default: SSBFLOW_DATA_DIR or user data dir)."
)
CALCULATOR_KWARGS_OPTION = typer.Option(
    None,
    "--calculator-kwargs",
    help='Calculator keyword arguments as JSON, e.g. \'{"model": "/path/model"}\'.',
)
JSON_OPTION = typer.Option(False, "--json", help="Print exactly one JSON object on stdout.")


@dataclass
class RunMode:
    """How a command's flow is executed: locally (default) or submitted to FireWorks."""

    submit: bool = False
    launchpad_file: Path | None = None
    dry_run: bool = False
    as_json: bool = False


def get_mode(ctx: typer.Context | None) -> RunMode:
    """The run mode stored on the click context by ``ssbflow submit`` (default: local)."""
    obj = getattr(ctx, "obj", None) if ctx is not None else None
    if isinstance(obj, RunMode):
        return obj
    return RunMode()


def load_settings(data_dir: Path | None, check_store: bool = True) -> SsbflowSettings:
    """Settings with the ``--data-dir`` override applied, and the results store checked.

    Raises
    ------
    InputError
        The data folder is a file, not writable or holds a corrupt store, or the MongoDB
        store does not answer (`ssbflow.validation.check_store`); before any work starts.
    """
    from ssbflow import validation

    settings = get_settings(data_dir=data_dir)
    if check_store:
        validation.check_store(settings)
    return settings


def parse_calculator_kwargs(text: str | None) -> dict[str, Any]:
    """Parse ``--calculator-kwargs`` JSON into a dict (InputError when malformed)."""
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f'--calculator-kwargs is not valid JSON ({exc.msg}); write e.g. \'{{"xc": "PBE"}}\''
        ) from exc
    if not isinstance(value, dict):
        raise InputError('--calculator-kwargs must be a JSON object, e.g. \'{"xc": "PBE"}\'')
    return value


def parse_miller(text: str, option: str) -> tuple[int, int, int]:
    """Parse CLI text such as '1,0,0' or '100' into a Miller index for flag ``option``.

    A thin wrapper over `ssbflow.structures.slabs.parse_miller`: the message names the
    flag, ``InputError.field`` the parameter (``--metal-miller`` -> ``metal_miller``).
    """
    from ssbflow.structures.slabs import parse_miller as _parse

    return _parse(text, option.lstrip("-").replace("-", "_"), label=option)


def require_positive(value: float | None, option: str, maximum: float | None = None) -> None:
    """InputError unless ``0 < value <= maximum`` (and finite)."""
    if value is None:
        return
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{option} must be a positive number, got {value}")
    if maximum is not None and value > maximum:
        raise InputError(f"{option}={value} is absurd; use a value up to {maximum}")


def run_or_submit(
    ctx: typer.Context | None,
    flow: Flow | Job,
    settings: SsbflowSettings,
    work_dir: Path | None = None,
    progress: bool = True,
) -> dict | None:
    """Run ``flow`` locally, or submit it when the command was called via ``ssbflow submit``.

    Returns
    -------
    dict or None
        jobflow responses for a local run; ``None`` when the flow was submitted (the
        submit machinery has printed the workflow id).
    """
    mode = get_mode(ctx)
    if mode.submit:
        from ssbflow.execution.fw import submit_flow

        submit_flow(
            flow,
            settings,
            launchpad_file=mode.launchpad_file,
            dry_run=mode.dry_run,
            as_json=mode.as_json,
        )
        return None
    from ssbflow.execution.runner import run_flow

    return run_flow(flow, settings, work_dir=work_dir, progress=progress)


def load_output(settings: SsbflowSettings, uuid: str) -> dict[str, Any] | None:
    """The last stored output of job ``uuid``; ValueError when none is stored.

    Prefer `run_command_flow`, or `ssbflow.execution.store.load_output` (``None`` when
    absent).
    """
    from ssbflow.execution.store import load_output as _load

    doc = _load(settings, uuid)
    if doc is None:
        raise ValueError(f"no output stored for job {uuid}")
    return doc


def run_command_flow(
    ctx: typer.Context | None,
    flow: Flow | Job,
    settings: SsbflowSettings,
    summary_uuids: Sequence[str],
    work_dir: Path | None = None,
    progress: bool = True,
) -> FlowOutcome | None:
    """Run a command's flow and load its summary, or submit it under ``ssbflow submit``.

    The one helper every command uses (`ssbflow.execution.runner.run_and_load`).

    Returns
    -------
    FlowOutcome or None
        ``None`` when the flow was submitted (the submit machinery has printed the
        workflow id); otherwise the summary document found and the first failure.
    """
    mode = get_mode(ctx)
    if mode.submit:
        run_or_submit(ctx, flow, settings, work_dir=work_dir, progress=progress)
        return None
    from ssbflow.execution.runner import run_and_load

    return run_and_load(flow, settings, summary_uuids, work_dir=work_dir, progress=progress)


def fmt(value: Any, spec: str = ".3f", none: str = "—") -> str:
    """A number for a table cell: ``format(value, spec)``, or ``none`` for a missing value."""
    return none if value is None else format(value, spec)


def json_safe(value: Any) -> Any:
    """``value`` with NaN/inf floats as None, dict keys as str and tuples as lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def emit_json(obj: Any) -> None:
    """Print exactly one JSON object on stdout (NaN/inf become null)."""
    typer.echo(json.dumps(json_safe(obj), default=str))


def write_structures(structures: dict[str, Any], output: Path) -> list[Path]:
    """Write pymatgen Structures as ``<name>.cif`` and ``<name>.vasp`` (POSCAR) files."""
    from pymatgen.core import Structure

    output.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, structure in structures.items():
        if isinstance(structure, dict):
            structure = Structure.from_dict(structure)
        cif = output / f"{name}.cif"
        poscar = output / f"{name}.vasp"
        structure.to(filename=str(cif))
        structure.to(filename=str(poscar), fmt="poscar")
        written += [cif, poscar]
    return written


def print_warnings(console: Any, doc: dict[str, Any]) -> None:
    """Print a result document's warnings, one per line, after its table."""
    for warning in doc.get("warnings") or []:
        console.print(f"[yellow]warning:[/yellow] {warning}")
