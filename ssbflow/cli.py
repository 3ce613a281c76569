"""The ``ssbflow`` command line.

Each command lives in its own module under `ssbflow.commands` and registers itself on the
Typer app. `main` turns user errors into one line on stderr and exit code 2.
"""

from __future__ import annotations

import functools
import json
import os
import re
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
    """Register every command module once (each ``main`` call used to add them again)."""
    if getattr(app, "_ssbflow_registered", False):
        return
    from ssbflow.commands import COMMAND_MODULES

    for module in COMMAND_MODULES:
        module.register(app)
    app._ssbflow_registered = True  # type: ignore[attr-defined]


#: Library fields (Maker fields, `ssbflow.validation` defaults, parameters) -> CLI flags
#: shared by every command, for errors raised below the command layer. A field that is a
#: parameter of the command being run maps to that parameter's own flag first, then
#: `COMMAND_FIELD_FLAGS` of that command, then this table.
FIELD_FLAGS = {
    "calculator_name": "--calculator",
    "calculator_kwargs": "--calculator-kwargs",
    "data_dir": "--data-dir",
    "work_dir": "--work-dir",
    "fworker_file": "--fworker",
    "launchpad_file": "--launchpad",
    "lost_after_s": "--lost-after",
}

_DIFFUSION_FIELD_FLAGS = {
    "temperatures_K": "--temperatures",
    "temperature_K": "--temperatures",
    "min_msd_increase_A2": "--min-msd",
    "time_step_fs": "--timestep-fs",
    "jump_distance_A": "--jump-distance",
    "frame_interval_ps": "--timestep-fs",
}

#: Per command: library fields whose flag is not the field's own name.
COMMAND_FIELD_FLAGS: dict[str, dict[str, str]] = {
    "adhesion": {
        "max_area_A2": "--max-area",
        "electrolyte_termination": "--termination",
        "top_k": "--refine-top",
    },
    "surface": {
        "millers": "--miller",
        "tolerance_J_per_m2": "--tolerance",
        "min_thickness_A": "--min-thickness",
        "max_thickness_A": "--max-thickness",
        "vacuum_A": "--vacuum",
        "metal_element": "--metal",
        "delta_mu_metal_eV": "--delta-mu",
        "chemical_potentials_eV": "--chemical-potential",
    },
    "diffusion": {
        **_DIFFUSION_FIELD_FLAGS,
        "supercell_min_length_A": "--supercell-min-length",
        "auto_temperatures": "--temperatures",
        "auto_start_K": "--auto-start",
        "auto_min_K": "--auto-min",
        "auto_step_inv_K": "--auto-step",
        "concurrent_temperatures": "--parallel",
    },
    "diffusion-analyze": dict(_DIFFUSION_FIELD_FLAGS),
    "phonons": {"supercell_min_length_A": "--supercell-min-length"},
    "calibrate": {"gaps_A": "--gaps"},
    "reproduce": {"reference_file": "--reference"},
}

#: Set ``SSBFLOW_DEBUG=1`` to see the traceback of an unexpected error.
DEBUG_ENV = "SSBFLOW_DEBUG"


def _error(message: str) -> None:
    first = " ".join(str(message).split())
    sys.stderr.write(f"ssbflow: error: {first}\n")


def _flag_of(command: click.Command | None, field: str | None) -> str | None:
    """The CLI flag of library field ``field`` (``None`` when it has none)."""
    if not field:
        return None
    for param in getattr(command, "params", []) or []:
        if param.name != field:
            continue
        opts = [o for o in getattr(param, "opts", []) if o.startswith("-")]
        if opts:  # an option
            longs = [o for o in opts if o.startswith("--")]
            return longs[0] if longs else opts[0]
        return None  # an argument: its name is already what the user sees in usage
    own = COMMAND_FIELD_FLAGS.get(getattr(command, "name", None) or "", {})
    return own.get(field) or FIELD_FLAGS.get(field)


def _with_flag(exc: InputError, command: click.Command | None) -> InputError:
    """``exc`` with its field replaced by the flag, in the message and in ``field``.

    An identifier-like field (``max_area_A2``) is replaced wherever it stands alone in the
    message; a plain word (``output``) only where it first appears.
    """
    field = getattr(exc, "field", None)
    flag = _flag_of(command, field)
    if flag is None or flag == field:
        return exc
    count = 0 if "_" in field else 1
    message = re.sub(rf"(?<![\w-]){re.escape(field)}(?!\w)", flag, str(exc), count=count)
    new = InputError(message, field=flag)
    new.__cause__ = exc.__cause__
    return new


def _check_params(command: click.Command, values: dict) -> None:
    """Checks that apply to every command, by parameter name (`ssbflow.validation`).

    Every float must be finite; ``output``/``work_dir`` folders must be usable;
    ``data_dir`` must be a usable store folder; ``seed`` must be in numpy's range;
    ``lost_after`` must be positive; ``ion_charge`` must be non-zero. Commands added
    later get these checks automatically.
    """
    from ssbflow import validation

    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, float):
            validation.check_finite(value, name)
        elif isinstance(value, list | tuple) and any(isinstance(v, float) for v in value):
            for item in value:
                if isinstance(item, float):
                    validation.check_finite(item, name)
        if name in ("output", "output_dir", "work_dir"):
            validation.check_output_dir(value, name)
        elif name == "data_dir":
            validation.check_data_dir(value, name)
        elif name == "seed":
            validation.check_seed(value, name)
        elif name == "lost_after":
            validation.check_lost_after(value, name)
        elif name == "ion_charge":
            validation.check_ion_charge(value, name)


def _install_checks(command: click.Command) -> None:
    """Wrap the callback of ``command`` and of every sub-command with `_check_params`.

    InputErrors raised by the command get their field mapped to the command's flag.
    """
    for sub in (getattr(command, "commands", None) or {}).values():
        _install_checks(sub)
    callback = command.callback
    if callback is None or getattr(callback, "_ssbflow_checked", False):
        return

    @functools.wraps(callback)
    def checked(*args, **kwargs):
        try:
            _check_params(command, kwargs)
            return callback(*args, **kwargs)
        except InputError as exc:
            raise _with_flag(exc, command) from exc.__cause__

    checked._ssbflow_checked = True  # type: ignore[attr-defined]
    command.callback = checked


class _CountingStream:
    """A text stream that remembers whether anything was written through it."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self.written = False

    def write(self, text: str) -> int:
        if text:
            self.written = True
        return self._stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _wants_json(args: list[str]) -> bool:
    return "--json" in args


def _emit_error(message: str, code: int, as_json: bool, field: str | None = None) -> int:
    """One line on stderr; under ``--json`` also the error object on stdout."""
    _error(message)
    if as_json:
        payload = {"error": " ".join(str(message).split()), "exit_code": code}
        if field:
            payload["field"] = field
        sys.stdout.write(json.dumps(payload) + "\n")
        sys.stdout.flush()
    return code


INTERRUPTED = (
    "interrupted: every job that finished before Ctrl-C is kept in the results store "
    "('ssbflow results'); the job that was running stored nothing"
)


def _interrupted() -> str:
    """The Ctrl-C line, naming the results store when the settings can be read."""
    try:
        from ssbflow.execution.store import describe_store
        from ssbflow.settings import get_settings

        where = describe_store(get_settings())
    except Exception:  # the message must not fail; the generic one is still true
        return INTERRUPTED
    return INTERRUPTED.replace("the results store", f"the results store ({where})")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 1 failed calculation, 2 bad input).

    Under ``--json`` stdout holds exactly one JSON object: the command's own, or
    ``{"error": ..., "exit_code": ..., "field": ...}`` (``field`` where known).
    """
    warnings.filterwarnings("ignore")
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = _wants_json(args)
    _register_commands()
    command = typer.main.get_command(app)
    _install_checks(command)
    real_stdout = sys.stdout
    counting = _CountingStream(real_stdout)
    sys.stdout = counting
    try:
        result = command.main(args=args, prog_name="ssbflow", standalone_mode=False)
    except _NO_ARGS as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else "", err=True)
        return 0
    except _USAGE as exc:
        hint = f" (see 'ssbflow {exc.ctx.info_name} --help')" if exc.ctx else ""
        sys.stdout = real_stdout
        return _emit_error(f"{exc.format_message()}{hint}", 2, as_json)
    except _ABORT:
        sys.stdout = real_stdout
        return _emit_error(_interrupted(), 130, as_json)
    except KeyboardInterrupt:
        sys.stdout = real_stdout
        return _emit_error(_interrupted(), 130, as_json)
    except _EXIT as exc:
        result = exc.exit_code
    except InputError as exc:
        sys.stdout = real_stdout
        field = getattr(exc, "field", None)
        return _emit_error(str(exc), 2, as_json and not counting.written, field)
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        sys.stdout = real_stdout
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:400]
        # file-system problems are the user's to fix; anything else is a failure
        code = 2 if isinstance(exc, OSError) else 1
        return _emit_error(
            f"{reason} (unexpected; set {DEBUG_ENV}=1 for the traceback)",
            code,
            as_json and not counting.written,
        )
    finally:
        sys.stdout = real_stdout
    code = result if isinstance(result, int) else 0
    if code == 130:  # typer turns Ctrl-C into exit code 130, silently
        return _emit_error(_interrupted(), 130, as_json and not counting.written)
    if as_json and code != 0 and not counting.written:
        # a command that failed without printing its own object still answers in JSON
        payload = {"error": "the command failed; see the message on stderr", "exit_code": code}
        sys.stdout.write(json.dumps(payload) + "\n")
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
