"""Exception types shared by the whole package.

`InputError` is raised for anything the user can fix (an unknown phase, a Miller index of
the wrong length, a calculator that is not installed). The CLI turns it into a single line
on stderr and exit code 2. It subclasses `ValueError` so that library users can catch it
the usual way. Its optional ``field`` names the setting that was wrong (a Maker field such
as ``min_msd_increase_A2`` or a CLI parameter such as ``output``); the CLI maps it to the
flag.
"""


class InputError(ValueError):
    """Bad user input: the message says what is wrong and how to fix it.

    Parameters
    ----------
    message
        One line: what is wrong and how to fix it.
    field
        The setting at fault, when known (``None`` otherwise).
    """

    def __init__(self, message: str = "", field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class CalculationError(RuntimeError):
    """A calculation ran but its result cannot be trusted (non-finite energy, no convergence)."""


def one_line_error(exc: BaseException, limit: int = 400) -> str:
    """``'RuntimeError: message'`` on one line, at most ``limit`` characters (a stored
    ``failure_reason``)."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:limit]
