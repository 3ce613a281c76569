"""Deprecated alias of `ssbflow.execution.sqlite_store` (moved in 0.x; this name goes in the next release)."""

import importlib
import sys
import warnings

warnings.warn(
    "ssbflow.sqlite_store moved to ssbflow.execution.sqlite_store; import it from there",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = importlib.import_module("ssbflow.execution.sqlite_store")
