"""Deprecated alias of `ssbflow.execution.store` (moved in 0.x; this name goes in the next release)."""

import importlib
import sys
import warnings

warnings.warn(
    "ssbflow.store moved to ssbflow.execution.store; import it from there",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = importlib.import_module("ssbflow.execution.store")
