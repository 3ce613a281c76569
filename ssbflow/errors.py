"""Exception types shared by the whole package.

`InputError` is raised for anything the user can fix (an unknown phase, a Miller index of
the wrong length, a calculator that is not installed). The CLI turns it into a single line
on stderr and exit code 2. It subclasses `ValueError` so that library users can catch it
the usual way.
"""


class InputError(ValueError):
    """Bad user input: the message says what is wrong and how to fix it."""


class CalculationError(RuntimeError):
    """A calculation ran but its result cannot be trusted (non-finite energy, no convergence)."""
