"""``ssbflow phases``: list the built-in phase library."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from ssbflow.commands._common import emit_json


def _phase_json(phase: Any) -> dict[str, Any]:
    """One library phase for ``--json``."""
    return {
        "name": phase.name,
        "formula": phase.formula,
        "kind": phase.kind,
        "spacegroup": phase.spacegroup_symbol,
        "spacegroup_number": phase.spacegroup_number,
        "source": phase.source,
        "doi": phase.doi,
    }


def phases(
    as_json: bool = typer.Option(False, "--json", help='Print one JSON object, {"phases": [...]}.'),
) -> None:
    """List the built-in bulk phases (metals and electrolytes) with their sources."""
    from ssbflow.structures.library import list_phases

    rows = list_phases()
    if as_json:
        emit_json({"phases": [_phase_json(p) for p in rows]})
        return
    table = Table(title="ssbflow phase library")
    for col in ("name", "formula", "kind", "space group", "source"):
        table.add_column(col)
    for p in rows:
        table.add_row(
            p.name,
            p.formula,
            p.kind,
            f"{p.spacegroup_symbol} ({p.spacegroup_number})",
            p.source,
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add the ``phases`` command."""
    app.command("phases")(phases)
