"""ssbflow: workflows for solid-state-battery interfaces.

Adhesion and wetting of alkali-metal anodes on solid electrolytes, ion diffusion from
molecular dynamics, and lattice dynamics, run through ASE calculators with jobflow and
stored in a queryable results database.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ssbflow")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
