"""``ssbflow submit | worker | status | rerun | results``: run studies at scale with FireWorks.

``ssbflow submit WORKFLOW ARGS...`` runs the main app's own ``WORKFLOW`` command (so the
arguments are exactly those of ``ssbflow WORKFLOW``) with the click context object set to
``RunMode(submit=True)``: the command builds its Flow and `run_or_submit` hands it to
`ssbflow.execution.fw.submit_flow` instead of running it.
"""

from __future__ import annotations

import csv
import sys
import warnings
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from ssbflow.commands._common import (
    DATA_DIR_OPTION,
    JSON_OPTION,
    RunMode,
    emit_json,
    fmt,
    load_settings,
    write_structures,
)
from ssbflow.errors import InputError

#: Workflows that ``ssbflow submit`` accepts (each is also a run command of the main app).
SUBMITTABLE = ("adhesion", "diffusion", "phonons", "stability")

LAUNCHPAD_OPTION = typer.Option(
    None,
    "--launchpad",
    help="FireWorks LaunchPad YAML (default: SSBFLOW_LAUNCHPAD_FILE, else MongoDB from the "
    "settings, else the embedded LaunchPad in the data dir).",
)
LOST_AFTER_OPTION = typer.Option(
    14400.0,
    "--lost-after",
    help="A running job whose worker has not pinged for this many seconds is lost "
    "(workers ping hourly). A job whose worker process on this machine is gone is "
    "lost at once.",
)

#: Values shown per result in the table (all of them are in --json and --csv).
MAX_TABLE_VALUES = 5

stdout_console = Console()
stderr_console = Console(stderr=True)


def _submit_help(available: list[str]) -> str:
    return (
        "Usage: ssbflow submit WORKFLOW ARGS... [--launchpad FILE] [--dry-run]\n\n"
        "Submit a study to the FireWorks LaunchPad instead of running it here; ARGS are those\n"
        "of 'ssbflow WORKFLOW' (see 'ssbflow submit WORKFLOW --help'). Prints the workflow id.\n\n"
        f"Workflows: {', '.join(available) or '(none installed)'}\n\n"
        "Options:\n"
        "  --launchpad FILE  FireWorks LaunchPad YAML (default: SSBFLOW_LAUNCHPAD_FILE, else\n"
        "                    MongoDB from the settings, else the embedded LaunchPad)\n"
        "  --dry-run         print the jobs that would be added; store nothing\n"
    )


def submit(
    ctx: typer.Context,
    workflow: str = typer.Argument(None, help="adhesion | diffusion | phonons | stability"),
    launchpad: Path = LAUNCHPAD_OPTION,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be added."),
) -> None:
    """Submit a study to FireWorks (same arguments as the run command); print its id."""
    root_ctx = ctx.find_root()
    root = root_ctx.command
    available = [
        name
        for name in SUBMITTABLE
        if root.get_command(root_ctx, name) is not None  # type: ignore[attr-defined]
    ]
    if workflow in ("--help", "-h"):
        typer.echo(_submit_help(available))
        return
    if workflow is None or workflow.startswith("-"):
        raise InputError(
            "give a workflow to submit: ssbflow submit "
            "adhesion|diffusion|phonons|stability ARGS... "
            "[--launchpad FILE] [--dry-run] (see 'ssbflow submit --help')",
            field="workflow",
        )
    if workflow not in SUBMITTABLE:
        raise InputError(
            f"cannot submit '{workflow}'; submit one of {', '.join(SUBMITTABLE)}, "
            "e.g. ssbflow submit adhesion Li Li3PS4"
        )
    command = root.get_command(root_ctx, workflow)  # type: ignore[attr-defined]
    if command is None:
        raise InputError(
            f"the '{workflow}' command is not installed in this ssbflow; "
            f"available: {', '.join(available) or 'none'}"
        )
    mode = RunMode(
        submit=True, launchpad_file=launchpad, dry_run=dry_run, as_json="--json" in ctx.args
    )
    sub_ctx = command.make_context(workflow, list(ctx.args), parent=ctx, obj=mode)
    with sub_ctx:
        command.invoke(sub_ctx)


def worker(
    launchpad: Path = LAUNCHPAD_OPTION,
    max_jobs: int = typer.Option(
        None, "--max-jobs", help="Stop after this many jobs (default: until none is left)."
    ),
    work_dir: Path = typer.Option(
        None, "--work-dir", help="Folder for job folders (default: DATA_DIR/runs/fireworks)."
    ),
    fworker_file: Path = typer.Option(
        None, "--fworker", help="FireWorks worker YAML (see my_fworker.yaml)."
    ),
    data_dir: Path = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Run ready jobs from the LaunchPad on this machine (rapid-fire) until none is left."""
    from ssbflow.execution.fw import run_worker

    settings = load_settings(data_dir)
    counts = run_worker(
        settings,
        launchpad_file=launchpad,
        max_jobs=max_jobs,
        work_dir=work_dir,
        fworker_file=fworker_file,
    )
    if as_json:
        emit_json({"launches": {state.lower(): n for state, n in sorted(counts.items())}})
    if counts.get("FIZZLED"):
        raise typer.Exit(1)


def status(
    as_json: bool = JSON_OPTION,
    launchpad: Path = LAUNCHPAD_OPTION,
    lost_after: float = LOST_AFTER_OPTION,
    data_dir: Path = DATA_DIR_OPTION,
) -> None:
    """Show the workflows on the LaunchPad, their jobs' states and any job's error."""
    from ssbflow.execution.fw import open_launchpad, workflow_status

    settings = load_settings(data_dir)
    opened = open_launchpad(settings, launchpad)
    workflows = workflow_status(opened, lost_after_s=lost_after)
    if as_json:
        emit_json(
            {
                "launchpad": opened.description,
                "workflows": [
                    {
                        "id": w.id,
                        "name": w.name,
                        "state": w.state,
                        "created_on": w.created_on,
                        "jobs": [_job_json(j) for j in w.jobs],
                    }
                    for w in workflows
                ],
            }
        )
        return
    stderr_console.print(f"[dim]{opened.description}[/dim]")
    if not workflows:
        stderr_console.print("no workflows; add one with 'ssbflow submit'")
        return
    table = Table(title="ssbflow workflows")
    for col in ("workflow", "job", "name", "state", "uuid", "error"):
        table.add_column(col, overflow="fold")
    for w in workflows:
        table.add_row(f"{w.id} {w.name}", "", "", w.state, "", "")
        for j in w.jobs:
            table.add_row(
                "",
                str(j.fw_id),
                j.name,
                _job_state(j),
                (j.uuid or "")[:8],
                j.error
                or ("worker gone; 'ssbflow rerun' it" if j.lost else "")
                or (_md_progress(j) or ""),
            )
    stdout_console.print(table)


def rerun_command(
    ident: int = typer.Argument(..., help="Workflow id (or job id) from 'ssbflow status'."),
    launchpad: Path = LAUNCHPAD_OPTION,
    lost_after: float = LOST_AFTER_OPTION,
    data_dir: Path = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Rerun the failed and lost jobs of a workflow (or one job); then run a worker."""
    from ssbflow.execution.fw import open_launchpad, rerun

    settings = load_settings(data_dir)
    opened = open_launchpad(settings, launchpad)
    ids = rerun(opened, ident, lost_after_s=lost_after)
    if as_json:
        emit_json({"reset_job_ids": ids})
    else:
        typer.echo(" ".join(str(i) for i in ids))
    stderr_console.print(
        f"reset {len(ids)} job(s) to run again; start 'ssbflow worker' to run them"
    )


def results(
    ctx: typer.Context,
    prop: str = typer.Option(
        None, "--property", help="Result type, e.g. adhesion, phonons, diffusion."
    ),
    system: str = typer.Option(None, "--system", help="System, e.g. Li/Li3PS4."),
    formula: str = typer.Option(None, "--formula", help="Reduced formula, e.g. Li3PS4."),
    calculator: str = typer.Option(None, "--calculator", help="Calculator, e.g. chgnet."),
    as_json: bool = JSON_OPTION,
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV on stdout."),
    data_dir: Path = DATA_DIR_OPTION,
) -> None:
    """List every stored summary; 'ssbflow results show UUID' prints one."""
    if ctx.invoked_subcommand is not None:
        return
    if as_json and as_csv:
        raise InputError("--json and --csv exclude each other; choose one")
    from ssbflow.execution.results import query_results

    settings = load_settings(data_dir)
    rows = query_results(
        settings, result_type=prop, system=system, formula=formula, calculator=calculator
    )
    if as_json:
        emit_json({"results": rows})
        return
    if as_csv:
        _write_csv(rows)
        return
    if not rows:
        stderr_console.print("no stored results match")
        return
    table = Table(title=f"ssbflow results ({len(rows)})")
    for col in ("uuid", "type", "system", "formula", "calculator"):
        table.add_column(col, overflow="fold")
    table.add_column("values (or failure)", overflow="fold", ratio=1)
    for row in rows:
        values = row["values"]
        if row["status"] == "successful":
            lines = [f"{k} = {_cell(v)}" for k, v in list(values.items())[:MAX_TABLE_VALUES]]
            if len(values) > MAX_TABLE_VALUES:
                lines.append(f"... {len(values) - MAX_TABLE_VALUES} more (--json)")
            shown = "\n".join(lines)
        else:
            shown = f"failed: {row['failure_reason']}"
        table.add_row(
            row["uuid"][:8],
            row["result_type"],
            row["system"],
            row["formula"],
            row["calculator"],
            shown,
        )
    stdout_console.print(table)


def show(
    uuid: str = typer.Argument(..., help="Result uuid (a unique prefix is enough)."),
    output: Path = typer.Option(
        None, "--output", help="Folder for the structures (default: ./<uuid>)."
    ),
    as_json: bool = JSON_OPTION,
    data_dir: Path = DATA_DIR_OPTION,
) -> None:
    """Print one stored summary and write its structures (CIF and POSCAR)."""
    from ssbflow.execution.results import get_result

    settings = load_settings(data_dir)
    doc = get_result(settings, uuid)
    out = doc["output"]
    structures = out.get("structures") or {}
    folder = output or Path(doc["uuid"])
    written = write_structures(structures, folder) if structures else []
    summary = {k: v for k, v in out.items() if k != "structures"}
    if as_json:
        emit_json(
            {
                "uuid": doc["uuid"],
                "index": doc.get("index"),
                "completed_at": doc.get("completed_at"),
                "output": summary,
                "structure_files": [str(p) for p in written],
            }
        )
        return
    table = Table(title=f"result {doc['uuid']}", show_header=False)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    table.add_row("completed_at", str(doc.get("completed_at")))
    for key, value in summary.items():
        if key == "provenance" and isinstance(value, dict):
            for pkey in ("calculator", "level_of_theory", "model", "ssbflow_version"):
                table.add_row(f"provenance.{pkey}", str(value.get(pkey)))
            continue
        table.add_row(key, _cell(value))
    stdout_console.print(table)
    if written:
        stderr_console.print(f"wrote {len(written)} structure files to {folder}")


def register(app: typer.Typer) -> None:
    """Add ``submit``, ``worker``, ``status``, ``rerun`` and ``results``."""
    app.command(
        "submit",
        context_settings={
            "allow_extra_args": True,
            "ignore_unknown_options": True,
            "help_option_names": [],
        },
        add_help_option=False,
    )(submit)
    app.command("worker")(worker)
    app.command("status")(status)
    app.command("rerun")(rerun_command)
    results_app = typer.Typer(
        help="List stored result summaries (local runs and FireWorks workers alike).",
        no_args_is_help=False,
    )
    results_app.callback(invoke_without_command=True)(results)
    results_app.command("show")(show)
    app.add_typer(results_app, name="results")


def _job_state(job: Any) -> str:
    if job.lost:
        return "LOST"
    return "FAILED" if job.state == "FIZZLED" else job.state


def _job_json(job: Any) -> dict[str, Any]:
    return {
        "fw_id": job.fw_id,
        "name": job.name,
        "state": _job_state(job),
        "fireworks_state": job.state,
        "uuid": job.uuid,
        "lost": job.lost,
        "error": job.error,
        "worker": job.worker,
        "launch_dir": job.launch_dir,
        "progress": _md_progress(job),
    }


def _md_progress(job: Any) -> str | None:
    """A running diffusion MD job's progress (its progress-<T>K.json files), or None.

    Readable where the launch folder is (same machine or shared file system).
    """
    import json

    if job.state != "RUNNING" or not job.launch_dir:
        return None
    parts = []
    for path in sorted(Path(job.launch_dir).glob("progress-*K.json")):
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        text = f"{info['temperature_K']:g} K {info['stage']}: {info['ps_done']:.3g}/{info['ps_max']:.3g} ps"
        if info.get("relative_stderr") is not None:
            text += f", σ(D*)/D* {info['relative_stderr']:.3f}"
            if info.get("target_precision") is not None:
                text += f" (target {info['target_precision']:g})"
        if info.get("eta_s") is not None:
            text += f", ETA {info['eta_s'] / 60:.0f} min"
        parts.append(text)
    return "; ".join(parts) or None


def _cell(value: Any) -> str:
    """A value for a table cell: floats to 6 significant digits, anything else as text."""
    return fmt(value, ".6g") if isinstance(value, float) else str(value)


def query_results(
    settings: Any,
    result_type: str | None = None,
    system: str | None = None,
    formula: str | None = None,
    calculator: str | None = None,
) -> list[dict[str, Any]]:
    """Deprecated: use `ssbflow.execution.results.query_results`."""
    from ssbflow.execution import results as library

    warnings.warn(
        "ssbflow.commands.fw.query_results is deprecated; use "
        "ssbflow.execution.results.query_results",
        DeprecationWarning,
        stacklevel=2,
    )
    return library.query_results(
        settings, result_type=result_type, system=system, formula=formula, calculator=calculator
    )


def get_result(settings: Any, uuid: str) -> dict[str, Any]:
    """Deprecated: use `ssbflow.execution.results.get_result`."""
    from ssbflow.execution import results as library

    warnings.warn(
        "ssbflow.commands.fw.get_result is deprecated; use ssbflow.execution.results.get_result",
        DeprecationWarning,
        stacklevel=2,
    )
    return library.get_result(settings, uuid)


def _write_csv(rows: list[dict[str, Any]]) -> None:
    value_keys = sorted({k for r in rows for k in r["values"]})
    head = [
        "uuid",
        "index",
        "result_type",
        "status",
        "system",
        "formula",
        "calculator",
        "completed_at",
        "failure_reason",
    ]
    writer = csv.writer(sys.stdout)
    writer.writerow(head + value_keys)
    for r in rows:
        writer.writerow([r[k] for k in head] + [r["values"].get(k, "") for k in value_keys])
    sys.stdout.flush()
