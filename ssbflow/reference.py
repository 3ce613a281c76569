"""Deprecated alias of `ssbflow.reproduce.reference` (this name goes in the next release)."""

import importlib
import sys
import warnings

warnings.warn(
    "ssbflow.reference moved to ssbflow.reproduce.reference; import it from there",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = importlib.import_module("ssbflow.reproduce.reference")
