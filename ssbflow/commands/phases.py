"""``ssbflow phases``: list the built-in phase library."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table


def register(app: typer.Typer) -> None:
    """Add the ``phases`` command."""

    @app.command("phases")
    def phases(
        as_json: bool = typer.Option(
            False, "--json", help='Print one JSON object, {"phases": [...]}.'
        ),
    ) -> None:
        """List the built-in bulk phases (metals and electrolytes) with their sources."""
        from ssbflow.structures.library import list_phases

        rows = list_phases()
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "phases": [
                            {
                                "name": p.name,
                                "formula": p.formula,
                                "kind": p.kind,
                                "spacegroup": p.spacegroup_symbol,
                                "spacegroup_number": p.spacegroup_number,
                                "source": p.source,
                                "doi": p.doi,
                            }
                            for p in rows
                        ]
                    }
                )
            )
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
