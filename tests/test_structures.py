"""Slab and interface construction invariants."""

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from ssbflow.errors import InputError
from ssbflow.structures.interfaces import build_interface_candidates
from ssbflow.structures.library import get_phase
from ssbflow.structures.slabs import generate_slabs, slab_series


@pytest.fixture(scope="module")
def li_li2o_candidates():
    return build_interface_candidates(
        get_phase("Li"),
        get_phase("Li2O"),
        (1, 0, 0),
        (1, 1, 1),
        max_strain=0.05,
        max_area_A2=200,
        max_atoms=300,
        gap_A=2.1,
    )


def _min_distance(s: Structure) -> float:
    d = s.distance_matrix + np.eye(len(s)) * 100
    return float(d.min())


def test_slabs_all_terminations_and_records():
    slabs = generate_slabs(get_phase("Li2O"), (1, 1, 1), thickness=10)
    assert len(slabs) >= 2  # O- and Li-terminated (111)
    for s in slabs:
        assert s.stoichiometric
        assert s.area_A2 > 0
        # thickness in Å honoured
        z = [site.coords[2] for site in s.slab]
        assert max(z) - min(z) >= 10 - 3.0


def test_slab_series_same_cell_growing():
    series = slab_series(get_phase("Li"), (1, 1, 0), [2, 3, 4])
    sizes = [len(s.slab) for s in series]
    assert sizes == sorted(sizes) and len(set(sizes)) == 3
    assert all(s.symmetric for s in series)


def test_interface_candidates_invariants(li_li2o_candidates):
    cands = li_li2o_candidates
    li2o = get_phase("Li2O").composition.reduced_composition
    terms = {c.electrolyte_termination for c in cands}
    assert len(terms) >= 2, "label_index=True must keep both Li2O(111) terminations"
    registries = {c.registry_index for c in cands}
    assert len(registries) == 4
    for c in cands:
        # each side keeps its stoichiometry
        assert c.metal_slab.composition.reduced_formula == "Li"
        assert c.electrolyte_slab.composition.reduced_composition.almost_equals(li2o)
        # strain within the limit, recorded
        assert 0 <= c.strain_percent <= 5.0 + 1e-9
        assert c.n_atoms == len(c.interface) <= 300
        assert c.area_A2 > 0
        # nothing closer than a physical distance (Li-O bond ~2.0 Å, gap 2.1 Å)
        assert _min_distance(c.interface) > 1.5
        # fixed layers present, only on the electrolyte, and never everything
        sd = np.array(c.interface.site_properties["selective_dynamics"])
        fixed = ~sd.all(axis=1)
        assert 0 < fixed.sum() == c.n_fixed < len(c.electrolyte_slab)
        labels = np.array(c.interface.site_properties["interface_label"])
        assert all("substrate" in lab for lab in labels[fixed])
        # fixed electrolyte atoms are the ones farthest from the metal
        z = np.array([s.coords[2] for s in c.interface])
        sub = np.array(["substrate" in lab for lab in labels])
        assert z[fixed].max() < z[sub & ~fixed].max()
        # the metal slab reference is the film, in the same cell
        assert np.allclose(c.metal_slab.lattice.matrix, c.interface.lattice.matrix)


def test_no_match_message_names_the_limit():
    # the library names the parameter (the CLI maps it to --max-area, test_cli_validation)
    with pytest.raises(InputError, match=r"raise max_area_A2 to at least \d+") as info:
        build_interface_candidates(
            get_phase("Li"), get_phase("Li2O"), (1, 0, 0), (1, 1, 1), max_area_A2=100
        )
    assert info.value.field == "max_area_A2"
    assert "--" not in str(info.value)


def test_strain_limit_message():
    cu = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.61), ["Cu"], [[0, 0, 0]])
    ag = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.09), ["Ag"], [[0, 0, 0]])
    with pytest.raises(InputError, match=r"raise (max_strain|max_area_A2) to at least") as info:
        build_interface_candidates(ag, cu, (1, 1, 1), (1, 1, 1), max_strain=0.01, max_area_A2=20)
    assert info.value.field in ("max_strain", "max_area_A2")
    assert info.value.field in str(info.value)


@pytest.mark.parametrize("miller", [(1, 0), (0, 0, 0), (1, 0, 0, 1)])
def test_bad_miller(miller):
    with pytest.raises(InputError):
        build_interface_candidates(get_phase("Li"), get_phase("Li2O"), miller, (1, 1, 1))
