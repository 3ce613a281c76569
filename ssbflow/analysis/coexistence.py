"""Chemical potentials at which a bulk phase coexists with other phases.

A surface of a multinary compound that is off-stoichiometric needs one μ per element.
Coexistence with named phases fixes them: the bulk and each phase satisfy
``Σ_j n_ij μ_j = E_i`` (energies per cell, eV), one equation per phase, e.g. LLZO with
Li2O, La2O3 and Zr metal for μ_Li, μ_La, μ_Zr and μ_O.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ssbflow.errors import InputError


def coexistence_chemical_potentials_eV(
    bulk_counts: dict[str, float],
    bulk_energy_eV: float,
    phases: Sequence[tuple[dict[str, float], float]],
) -> dict[str, float]:
    """Chemical potentials at which the bulk coexists with the given phases.

    Solves ``Σ_j n_ij μ_j = E_i`` for the bulk and each phase, e.g. LLZO with Li2O, La2O3
    and Zr metal ("μ_Li as in Li2O, μ_La as in La2O3, μ_Zr as in Zr"): four equations for
    μ_Li, μ_La, μ_Zr, μ_O.

    Parameters
    ----------
    bulk_counts, bulk_energy_eV
        Atoms of each element in the bulk cell and its energy, eV.
    phases
        ``(counts, energy_eV)`` of each coexisting phase's cell.

    Returns
    -------
    dict
        μ per element of the bulk, eV/atom.

    Raises
    ------
    InputError
        The phases hold elements the bulk lacks, or the equations do not fix every μ
        (too few phases, or linearly dependent compositions).
    """
    elements = sorted(bulk_counts)
    extra = sorted({el for counts, _ in phases for el in counts} - set(elements))
    if extra:
        raise InputError(f"coexisting phases hold {extra}, which the bulk does not contain")
    rows = [bulk_counts, *(counts for counts, _ in phases)]
    matrix = np.array([[float(r.get(el, 0.0)) for el in elements] for r in rows])
    energies = np.array([bulk_energy_eV, *(e for _, e in phases)])
    if matrix.shape[0] != len(elements) or np.linalg.matrix_rank(matrix) < len(elements):
        raise InputError(
            f"the bulk and {len(phases)} coexisting phase(s) do not fix the chemical potentials "
            f"of {', '.join(elements)}: give {len(elements) - 1} phases with independent "
            "compositions"
        )
    mu = np.linalg.solve(matrix, energies)
    return {el: float(m) for el, m in zip(elements, mu, strict=True)}
