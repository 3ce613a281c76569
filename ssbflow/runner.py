"""Deprecated alias of `ssbflow.execution.runner` (moved in 0.x; this name goes in the next release)."""

import importlib
import sys
import warnings

warnings.warn(
    "ssbflow.runner moved to ssbflow.execution.runner; import it from there",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = importlib.import_module("ssbflow.execution.runner")
