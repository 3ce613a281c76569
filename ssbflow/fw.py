"""Deprecated alias of `ssbflow.execution.fw` (moved in 0.x; this name goes in the next release)."""

import importlib
import sys
import warnings

warnings.warn(
    "ssbflow.fw moved to ssbflow.execution.fw; import it from there",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = importlib.import_module("ssbflow.execution.fw")
