"""Deprecated alias of `ssbflow.reproduce.reference` (moved; this name goes in the next release)."""

from ssbflow._deprecation import alias_module

alias_module(__name__, "ssbflow.reproduce.reference")
