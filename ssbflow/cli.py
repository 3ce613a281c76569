"""The ``ssbflow`` command line.

Each command lives in its own module under `ssbflow.commands` and registers itself on the
Typer app. `main` turns user errors into one line on stderr and exit code 2.
"""

from __future__ import annotations

import sys
import warnings

import click
import typer

from ssbflow.errors import InputError

try:  # typer >= 0.26 bundles its own copy of click
    from typer._click import exceptions as _typer_click_exceptions
except ImportError:  # pragma: no cover - older typer uses click itself
    _typer_click_exceptions = click.exceptions


def _both(name: str) -> tuple[type[BaseException], ...]:
    """The click exception class ``name`` from click and from typer's bundled copy."""
    found = {getattr(mod, name, None) for mod in (click.exceptions, _typer_click_exceptions)}
    return tuple(cls for cls in found if cls is not None)


_NO_ARGS = _both("NoArgsIsHelpError")
_USAGE = _both("UsageError")
_ABORT = (*_both("Abort"), typer.Abort)
_EXIT = (*_both("Exit"), typer.Exit)

app = typer.Typer(
    name="ssbflow",
    help="Workflows for solid-state-battery interfaces: adhesion, wetting, diffusion, phonons.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    from ssbflow.commands import COMMAND_MODULES

    for module in COMMAND_MODULES:
        module.register(app)


def _error(message: str) -> None:
    first = " ".join(str(message).split())
    sys.stderr.write(f"ssbflow: error: {first}\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 1 failed calculation, 2 bad input)."""
    warnings.filterwarnings("ignore")
    _register_commands()
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="ssbflow", standalone_mode=False)
    except _NO_ARGS as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else "", err=True)
        return 0
    except _USAGE as exc:
        hint = f" (see 'ssbflow {exc.ctx.info_name} --help')" if exc.ctx else ""
        _error(f"{exc.format_message()}{hint}")
        return 2
    except _ABORT:
        _error("aborted")
        return 130
    except _EXIT as exc:
        return exc.exit_code
    except InputError as exc:
        _error(str(exc))
        return 2
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
