"""Deprecated names keep working for one release: one way to say so."""

from __future__ import annotations

import importlib
import sys
import warnings


def warn_deprecated(old: str, new: str, stacklevel: int = 3) -> None:
    """Emit the DeprecationWarning for ``old``, naming its replacement ``new``."""
    warnings.warn(f"{old} is deprecated; use {new}", DeprecationWarning, stacklevel=stacklevel)


def alias_module(old: str, new: str) -> None:
    """Make module ``old`` an alias of module ``new`` (same object), with a warning.

    Call it from the old module's body: ``alias_module(__name__, "ssbflow.execution.fw")``.
    Patching an attribute through either name patches the one module.
    """
    warnings.warn(f"{old} moved to {new}; import it from there", DeprecationWarning, stacklevel=3)
    sys.modules[old] = importlib.import_module(new)
