"""The calculator registry (`ssbflow.calculators.registry`) and the GPAW settings model."""

from __future__ import annotations

import importlib.util
import json
import math

import ase
import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from ssbflow.calculators import (
    CALCULATORS,
    DEVICE_KEYWORDS,
    ML_CALCULATORS,
    VARIANTS,
    calculator_provenance,
    check_calculator,
    device_kwargs,
    device_of,
    get_calculator,
    level_of_theory,
    normalize_name,
    package_version,
    resolve_calculator,
    resolve_variant,
    variant_label,
)
from ssbflow.calculators.dft_gpaw import (
    PRESETS,
    GpawSettings,
    kpoint_mesh,
    reciprocal_lengths_per_A,
    resolve_settings,
)
from ssbflow.calculators.registry import MPTRJ_MAX_Z, CalculatorSpec, ImportPathSpec
from ssbflow.calculators.threads import blas_threads
from ssbflow.errors import InputError

#: Every accepted spelling of each built-in calculator.
SPELLINGS = {
    "chgnet": ["chgnet", "CHGNet", " chgnet "],
    "sevennet": ["sevennet", "7net", "sevenn", "SevenNet"],
    "mace": ["mace", "mace-mp", "MACE"],
    "matgl": ["matgl", "MatGL"],
    "emt": ["emt", "EMT"],
    "lj": ["lj", "lennard-jones", "Lennard-Jones"],
    "gpaw": ["gpaw", "GPAW"],
}


# ------------------------------------------------------------------ names and aliases
@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [(s, name) for name, spellings in SPELLINGS.items() for s in spellings],
)
def test_every_name_and_alias_resolves_to_its_spec(spelling, canonical):
    spec = resolve_calculator(spelling)
    assert spec is CALCULATORS[canonical]
    assert spec.name == canonical
    assert normalize_name(spelling) == canonical
    assert resolve_calculator(spec) is spec  # normalised once: a spec passes through


def test_registry_covers_the_documented_families_and_their_aliases():
    assert set(CALCULATORS) == set(SPELLINGS)
    for spec in CALCULATORS.values():
        for alias in spec.aliases:
            assert resolve_calculator(alias) is spec
    kinds = {name: spec.kind for name, spec in CALCULATORS.items()}
    assert kinds == {
        "chgnet": "ml",
        "sevennet": "ml",
        "mace": "ml",
        "matgl": "ml",
        "emt": "empirical",
        "lj": "empirical",
        "gpaw": "dft",
    }


def test_ml_calculators_and_device_keywords_are_derived_from_the_registry():
    assert {spec.name for spec in CALCULATORS.values() if spec.kind == "ml"} == ML_CALCULATORS
    assert frozenset({"chgnet", "sevennet", "mace", "matgl"}) == ML_CALCULATORS
    # only ML potentials load a model worth caching
    assert {spec.name for spec in CALCULATORS.values() if spec.cached} == ML_CALCULATORS
    assert DEVICE_KEYWORDS == {"chgnet": "use_device", "sevennet": "device", "mace": "device"}


def test_import_path_resolves_to_an_ase_spec():
    for path in ("ase.calculators.emt:EMT", "ase.calculators.emt.EMT"):
        spec = resolve_calculator(path)
        assert isinstance(spec, ImportPathSpec)
        assert (spec.name, spec.kind, spec.package) == (path, "ase", "ase")
        assert level_of_theory(path) == f"ASE calculator ({path})"
        assert package_version(path) == ase.__version__
    assert check_calculator(" ase.calculators.emt:EMT ", ["Cu"]) == "ase.calculators.emt:EMT"


@pytest.mark.parametrize("name", ["nonsense", "chgnett", "vasp"])
def test_unknown_name_lists_the_known_ones(name):
    with pytest.raises(InputError) as info:
        resolve_calculator(name)
    message = str(info.value)
    assert f"unknown calculator '{name}'" in message
    assert all(known in message for known in SPELLINGS)
    assert "ase.calculators.emt:EMT" in message
    assert info.value.field == "calculator_name"


def test_empty_name_names_the_field_not_a_flag():
    with pytest.raises(InputError) as info:
        resolve_calculator("  ")
    assert info.value.field == "calculator_name"
    assert "calculator_name chgnet" in str(info.value)


# ------------------------------------------------------------------ level of theory, provenance
@pytest.mark.parametrize(
    ("name", "kwargs", "label"),
    [
        ("chgnet", {}, "ML potential (chgnet)"),
        ("7net", {"model": "7net-l3i5"}, "ML potential (sevennet)"),
        ("mace", {"model": "/m"}, "ML potential (mace)"),
        ("matgl", {}, "ML potential (matgl)"),
        ("emt", {}, "empirical potential (EMT)"),
        ("lennard-jones", {"sigma": 2.0}, "empirical potential (LJ)"),
        ("gpaw", {}, "DFT (GPAW, PBE, standard preset)"),
        ("gpaw", {"preset": "fast"}, "DFT (GPAW, PBE, fast preset)"),
        ("gpaw", {"preset": "accurate", "xc": "LDA"}, "DFT (GPAW, LDA, accurate preset)"),
    ],
)
def test_level_of_theory_per_spec(name, kwargs, label):
    assert level_of_theory(name, kwargs) == label
    assert resolve_calculator(name).level_of_theory(kwargs) == label


def test_provenance_names_package_and_model_per_spec():
    emt = calculator_provenance("EMT", {"asap_cutoff": True})
    assert emt == {
        "calculator": "emt",
        "package_version": ase.__version__,
        "model": "ASE EMT",
        "calculator_kwargs": {"asap_cutoff": True},
    }
    assert calculator_provenance("lj")["model"] == "ASE LennardJones"
    assert calculator_provenance("ase.calculators.emt:EMT")["model"] is None
    assert calculator_provenance("mace", {"model": "/m/mace.model"})["model"] == "/m/mace.model"
    assert calculator_provenance("sevennet", {"model": "7net-l3i5"})["model"] == (
        "SevenNet 7net-l3i5"
    )
    chgnet = calculator_provenance("chgnet", {"model": "0.2.0"})
    assert chgnet["model"].startswith("CHGNet 0.2.0 pretrained weights (chgnet ")
    assert chgnet["package_version"] == package_version("chgnet")


def test_gpaw_provenance_records_the_resolved_preset():
    prov = calculator_provenance("gpaw", {"preset": "fast"})
    assert prov["calculator"] == "gpaw"
    if prov.get("gpaw_installed") is False:
        pytest.skip("GPAW is not installed: pip install 'ssbflow[dft]'")
    assert prov["gpaw_settings"]["ecut_eV"] == PRESETS["fast"].ecut_eV
    assert prov["preset_values"]["kpoint_spacing_per_A"] == PRESETS["fast"].kpoint_spacing_per_A


# ------------------------------------------------------------------ elements and keyword arguments
def test_emt_covers_its_parameter_table_only():
    from ase.calculators.emt import parameters

    emt = resolve_calculator("emt")
    emt.check_elements(sorted(parameters), {})  # every tabulated element is accepted
    with pytest.raises(InputError) as info:
        emt.check_elements(["Cu", "Li", "O"], {})
    message = str(info.value)
    assert message.startswith("EMT has no parameters for Li; EMT covers Ag, Al, Au")
    assert "Use calculator_name chgnet instead" in message
    assert info.value.field == "calculator_name"


@pytest.mark.parametrize("name", ["chgnet", "sevennet"])
def test_mptrj_potentials_cover_z_up_to_94(name):
    spec = resolve_calculator(name)
    spec.check_elements(["H", "Li", "U", "Pu"], {})  # Pu: Z = 94, the last MPtrj element
    with pytest.raises(InputError, match=f"{name} was not trained on Am") as info:
        spec.check_elements(["Am", "Li"], {})  # Am: Z = 95
    assert info.value.field == "calculator_name"
    assert MPTRJ_MAX_Z == 94


def test_empirical_and_import_path_specs_cover_any_element_they_do_not_check():
    # LJ and an arbitrary ASE class have no element table: nothing is refused up front
    resolve_calculator("lj").check_elements(["Li", "U"], {})
    resolve_calculator("ase.calculators.lj:LennardJones").check_elements(["Og"], {})


@pytest.mark.skipif(
    importlib.util.find_spec("gpaw") is None or importlib.util.find_spec("gpaw_data") is None,
    reason="GPAW is not installed: pip install 'ssbflow[dft]'",
)
def test_gpaw_covers_the_elements_with_paw_setups():
    gpaw = resolve_calculator("gpaw")
    gpaw.check_elements(["Li", "O", "F"], {"preset": "fast"})
    with pytest.raises(InputError, match=r"no PBE PAW setup for U\b"):
        gpaw.check_elements(["Li", "U"], {"preset": "fast"})


@pytest.mark.parametrize("name", ["mace", "matgl"])
def test_downloaded_weights_are_refused_offline(name):
    spec = resolve_calculator(name)
    with pytest.raises(InputError) as info:
        spec.check_kwargs({})
    assert "give a local model file, e.g. calculator_kwargs" in str(info.value)
    assert info.value.field == "calculator_kwargs"
    spec.check_kwargs({"model": "/path/model"})


def test_unknown_keyword_arguments_are_refused_per_spec():
    with pytest.raises(InputError, match="does not take 'nope'") as info:
        check_calculator("emt", ["Cu"], {"nope": 1})
    assert info.value.field == "calculator_kwargs"
    with pytest.raises(InputError, match="does not take 'sigmaa'"):
        check_calculator("ase.calculators.lj:LennardJones", ["Cu"], {"sigmaa": 2.0})
    with pytest.raises(InputError, match="unknown CHGNet model 'r3scan'"):
        resolve_calculator("chgnet").check_kwargs({"model": "r3scan"})
    with pytest.raises(InputError, match="unknown SevenNet modal 'HSE'"):
        resolve_calculator("sevennet").check_kwargs({"model": "7net-mf-0", "modal": "HSE"})
    with pytest.raises(InputError, match="unknown gpaw setting"):
        check_calculator("gpaw", ["Li"], {"smearing": 0.1})


@pytest.mark.parametrize(
    ("name", "elements", "kwargs"),
    [
        ("", ["Cu"], {}),
        ("nonsense", ["Cu"], {}),
        ("emt", ["Li"], {}),
        ("nosuch.module:Calc", ["Cu"], {}),
        ("collections:OrderedDict", ["Cu"], {}),
        ("emt", ["Cu"], {"nope": 1}),
        ("chgnet", ["Am"], {}),
        ("mace", ["Cu"], {}),
        ("gpaw", ["Li"], {"preset": "ultra"}),
    ],
)
def test_calculator_errors_name_a_field_never_a_cli_flag(name, elements, kwargs):
    with pytest.raises(InputError) as info:
        check_calculator(name, elements, kwargs)
    assert "--" not in str(info.value)
    assert info.value.field in {"calculator_name", "calculator_kwargs"}


# ------------------------------------------------------------------ devices, building, variants
def test_device_keyword_per_spec():
    assert device_kwargs("chgnet", {}, "cpu") == {"use_device": "cpu"}
    assert device_kwargs("7net", {"model": "7net-l3i5"}, "cpu") == {
        "model": "7net-l3i5",
        "device": "cpu",
    }
    assert device_kwargs("sevennet", {"device": "cuda"}, "cpu") == {"device": "cuda"}  # given wins
    assert device_kwargs("emt", {"asap_cutoff": True}, "cpu") == {"asap_cutoff": True}
    assert device_kwargs("gpaw", None, "cpu") == {}
    assert device_of("emt", {}) == "cpu"
    assert device_of("chgnet", {"use_device": "cpu"}) == "cpu"


def test_empirical_calculators_are_built_fresh_and_energies_are_physical():
    a = get_calculator("lj", {"sigma": 2.0, "epsilon": 1.0, "rc": 6.0})
    b = get_calculator("lj", {"sigma": 2.0, "epsilon": 1.0, "rc": 6.0})
    assert a is not b  # not cached: building LJ costs nothing
    dimer = ase.Atoms("Ar2", positions=[[0, 0, 0], [0, 0, 2.0 * 2 ** (1 / 6)]])
    dimer.calc = a
    # at the minimum r = 2^(1/6) sigma the pair energy is -epsilon (shifted by the cutoff)
    shift = 4 * ((2.0 / 6.0) ** 12 - (2.0 / 6.0) ** 6)
    assert dimer.get_potential_energy() == pytest.approx(-1.0 - shift, abs=1e-9)
    assert np.abs(dimer.get_forces()).max() < 1e-9


def test_variants_round_trip_through_their_specs():
    for label, (name, kwargs) in VARIANTS.items():
        assert resolve_variant(label) == (name, kwargs)
        assert resolve_variant(variant_label(name, kwargs)) == (name, kwargs)
    for preset in PRESETS:
        assert resolve_variant(f"GPAW:{preset}") == ("gpaw", {"preset": preset})
        assert variant_label("gpaw", {"preset": preset, "txt": "x.txt"}) == f"gpaw:{preset}"
    assert variant_label("chgnet", {"use_device": "cpu"}) == "chgnet"  # device is no model
    assert variant_label("lj", {"sigma": 2.0}) == 'lj{"sigma": 2.0}'
    with pytest.raises(InputError, match="gpaw:fast, gpaw:standard, gpaw:accurate"):
        resolve_variant("gpaw:ultra")


def test_a_custom_spec_plugs_into_every_public_function():
    spec = CalculatorSpec(
        name="morse",
        kind="empirical",
        package="ase",
        calculator_class="ase.calculators.morse:MorsePotential",
        model="ASE Morse",
    )
    assert check_calculator(spec, ["Cu"], {"epsilon": 0.5}) == "morse"
    assert level_of_theory(spec) == "empirical potential (MORSE)"
    assert calculator_provenance(spec)["model"] == "ASE Morse"
    calc = get_calculator(spec, {"epsilon": 0.5})
    assert calc.parameters["epsilon"] == 0.5


# ------------------------------------------------------------------ GPAW settings model
def test_gpaw_settings_fill_presets_and_apply_overrides():
    for name, preset in PRESETS.items():
        settings = GpawSettings.from_kwargs({"preset": name.upper()})
        assert settings.preset == name
        assert (settings.ecut_eV, settings.kpoint_spacing_per_A, settings.smearing_eV) == (
            preset.ecut_eV,
            preset.kpoint_spacing_per_A,
            preset.smearing_eV,
        )
        assert (settings.scf_energy_eV, settings.scf_density) == (
            preset.scf_energy_eV,
            preset.scf_density,
        )
    assert GpawSettings() == GpawSettings.from_kwargs({}) == resolve_settings(None)
    custom = GpawSettings.from_kwargs(
        {"preset": "fast", "ecut_eV": 350, "kpts": [4, 4, 1], "dipole_correction": True}
    )
    assert custom.ecut_eV == 350.0 and isinstance(custom.ecut_eV, float)
    assert custom.smearing_eV == PRESETS["fast"].smearing_eV  # not overridden: the preset's
    assert custom.kpts == (4, 4, 1)
    assert custom.dipole_correction == "on"
    assert GpawSettings.from_kwargs({"dipole_correction": False}).dipole_correction == "off"
    assert GpawSettings.from_kwargs({"xc": " RPBE "}).xc == "RPBE"
    with pytest.raises(ValueError):  # frozen: resolved settings are not edited in place
        custom.ecut_eV = 1.0  # type: ignore[misc]


def test_gpaw_settings_as_dict_is_json_with_every_key():
    out = GpawSettings.from_kwargs({"preset": "fast", "kpts": (2, 2, 2)}).as_dict()
    assert out["kpts"] == [2, 2, 2]
    assert json.loads(json.dumps(out)) == out
    assert list(out) == [
        "preset",
        "xc",
        "ecut_eV",
        "kpoint_spacing_per_A",
        "kpts",
        "smearing_eV",
        "scf_energy_eV",
        "scf_density",
        "maxiter",
        "spinpol",
        "dipole_correction",
        "min_vacuum_A",
        "retry_scf",
        "blas_threads",
        "txt",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ecut_eV": 50}, "gpaw ecut_eV=50 is impossible; use a value in [100, 3000]"),
        ({"smearing_eV": math.nan}, "gpaw smearing_eV=nan is not a number; give e.g."),
        ({"maxiter": 2.0}, "gpaw maxiter=2.0 must be a positive integer, e.g. 333"),
        ({"spinpol": 1}, "gpaw spinpol=1 must be true or false"),
        ({"kpts": [4, 4]}, "gpaw kpts=[4, 4] must be three positive integers"),
        ({"xc": ""}, "gpaw xc='' must be a functional name such as 'PBE'"),
        ({"preset": "ultra", "ecut_eV": -1}, "unknown gpaw preset 'ultra'; use one of fast"),
        ({"bogus": 1, "preset": "ultra"}, "unknown gpaw setting(s) bogus; allowed: blas_threads"),
        # several wrong settings: the first in the documented order is reported
        ({"xc": "", "maxiter": 0, "ecut_eV": -1}, "gpaw ecut_eV=-1 is impossible"),
        ({"txt": "a/b", "kpts": [0, 1, 1]}, "gpaw kpts=[0, 1, 1] must be three"),
    ],
)
def test_gpaw_settings_errors_name_the_field(kwargs, message):
    with pytest.raises(InputError) as info:
        GpawSettings.from_kwargs(kwargs)
    assert str(info.value).startswith(message)
    assert info.value.field == "calculator_kwargs"


# ------------------------------------------------------------------ k-points and threads
def test_reciprocal_lengths_by_hand_and_as_pymatgen():
    a = 3.2
    assert reciprocal_lengths_per_A(np.eye(3) * a) == pytest.approx([2 * np.pi / a] * 3)
    hexagonal = Lattice.hexagonal(a, 5.0)
    # |b1| = |b2| = 4π / (√3 a) for a hexagonal lattice; |b3| = 2π / c
    expected = [4 * np.pi / (np.sqrt(3) * a)] * 2 + [2 * np.pi / 5.0]
    assert reciprocal_lengths_per_A(hexagonal.matrix) == pytest.approx(expected)
    assert reciprocal_lengths_per_A(hexagonal.matrix) == pytest.approx(
        hexagonal.reciprocal_lattice.abc
    )


def test_vasp_and_gpaw_meshes_are_one_rule():
    from ssbflow.workflows.vasp import gamma_mesh

    structure = Structure(Lattice.hexagonal(3.2, 20.0), ["Li"], [[0, 0, 0]])
    for spacing in (0.15, 0.22, 0.3):
        for slab in (False, True):
            mesh = kpoint_mesh(structure.lattice.matrix, spacing, slab)
            assert tuple(gamma_mesh(structure, spacing, slab).kpts[0]) == mesh
    # 4π/(√3·3.2) = 2.267 Å⁻¹; / 0.22 = 10.3 -> 11; c: 0.314 / 0.22 = 1.43 -> 2 (1 for a slab)
    assert kpoint_mesh(structure.lattice.matrix, 0.22, slab=False) == (11, 11, 2)
    assert kpoint_mesh(structure.lattice.matrix, 0.22, slab=True) == (11, 11, 1)


def test_blas_threads_limits_blas_inside_the_block():
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads_now() -> list[int]:
        info = threadpoolctl.threadpool_info()
        return [i["num_threads"] for i in info if i["user_api"] == "blas"]

    before = blas_threads_now()
    with blas_threads(1):
        assert all(n == 1 for n in blas_threads_now())
    assert blas_threads_now() == before
