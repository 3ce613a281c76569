"""Deprecated alias of `ssbflow.execution.fw` (moved; this name goes in the next release)."""

from ssbflow._deprecation import alias_module

alias_module(__name__, "ssbflow.execution.fw")
