"""Typed loader parameters (``brayns_trio.loaders``): generated code up to date, every loader of
the reference covered, JSON valid for its schema, and loading through the fake server."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pytest

from brayns_trio import Instance, api, helpers, loaders
from brayns_trio._validation import validate

from .scripts import load_script

ROOT = Path(__file__).resolve().parent.parent
LOADERS_JSON = ROOT / "brayns_trio" / "_data" / "loaders.json"
OBJ = b"v 0 0 0\nv 1 0 0\nv 0 2 0\nv 0 0 3\nf 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n"
PLUGINS = (
    "braynsCircuitExplorer",
    "braynsAtlasExplorer",
    "braynsDTI",
    "braynsMoleculeExplorer",
)

pytestmark = pytest.mark.brayns_fake(plugins=PLUGINS)


def load_generator() -> ModuleType:
    return load_script("generate_loaders")


def reference() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(LOADERS_JSON.read_text("utf-8"))
    return data


def test_generated_module_is_up_to_date() -> None:
    generator = load_generator()
    text = generator.generate(generator.load_inputs())
    checked_in = (ROOT / "brayns_trio" / "_loaders_generated.py").read_text("utf-8")
    assert text == checked_in, "run: python scripts/generate_loaders.py"
    assert generator.main(["--check"]) == 0


def test_check_reports_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "stale.py"
    stale.write_text("# old\n")
    assert load_generator().main(["--check", "--output", str(stale)]) == 1


@pytest.mark.parametrize("loader", reference(), ids=lambda loader: loader["name"])
def test_each_loader_has_a_class_matching_its_schema(loader: dict[str, Any]) -> None:
    cls = loaders.loader_class(loader["name"])
    assert loader["name"] == cls.LOADER_NAME
    assert loader["plugin"] == cls.PLUGIN
    assert list(cls.EXTENSIONS) == loader["extensions"]
    assert loader["binary"] == cls.BINARY
    schema = loader["input_parameters_schema"]
    properties = schema.get("properties", {})
    fields = {field.name: field for field in attrs.fields(cls)}
    assert set(fields) == set(properties)
    required = set(schema.get("required", []))
    assert {name for name, field in fields.items() if field.default is attrs.NOTHING} == required


def test_json_is_valid_for_the_schemas() -> None:
    schemas = {loader["name"]: loader["input_parameters_schema"] for loader in reference()}
    samples: list[loaders.LoaderParams] = [
        loaders.MeshLoader(),
        loaders.RawVolumeLoader(data_type="float", dimensions=[4, 4, 4], spacing=[1, 1, 1]),
        loaders.BbpLoader(
            percentage=0.5,
            report_type="spikes",
            neuron_morphology_parameters=loaders.NeuronMorphologyLoaderParameters(
                geometry_type="spheres", load_soma=True
            ),
        ),
        loaders.SonataLoader(
            node_population_settings=[
                loaders.SonataNodePopulationParameters(
                    node_population="cells",
                    node_percentage=0.1,
                    report_type="compartment",
                    edge_populations=[
                        loaders.SonataEdgePopulationParameters(
                            edge_population="synapses", load_afferent=True
                        )
                    ],
                    vasculature_geometry_parameters=loaders.VasculatureGeometrySettings(
                        radius_multiplier=2
                    ),
                )
            ]
        ),
        loaders.NrrdLoader(type="orientation"),
        loaders.DtiLoader(radius=0.5),
        loaders.ProteinLoader(color_scheme="protein_chains"),
        loaders.CellPlacementLoader(extension="h5", percentage=0.2),
        loaders.NeuronMorphologyLoader(growth=0.5),
        loaders.XyzLoader(),
    ]
    for sample in samples:
        schema = schemas[type(sample).LOADER_NAME]
        assert validate(loaders.loader_properties(sample), schema) == []
    assert loaders.loader_properties(samples[3]) == {
        "node_population_settings": [
            {
                "node_population": "cells",
                "node_percentage": 0.1,
                "report_type": "compartment",
                "edge_populations": [{"edge_population": "synapses", "load_afferent": True}],
                "vasculature_geometry_parameters": {"radius_multiplier": 2},
            }
        ]
    }
    # A value out of the schema is caught by the same validation the server runs.
    assert validate(
        loaders.loader_properties(loaders.BbpLoader(percentage=2)), schemas["BBP loader"]
    )


def test_unknown_loader_name() -> None:
    with pytest.raises(KeyError, match="no loader 'bogus'; known: mesh"):
        loaders.loader_class("bogus")


async def test_load_and_upload_with_typed_parameters(
    brayns_instance: Instance, tmp_path: Path
) -> None:
    names = {loader.name for loader in await api.get_loaders(brayns_instance)}
    assert names == set(loaders.LOADER_CLASSES)
    path = tmp_path / "cell.obj"
    path.write_bytes(OBJ)
    (model,) = await loaders.load_model(brayns_instance, str(path), loaders.MeshLoader())
    assert model.info.load_info is not None
    assert model.info.load_info.loader_name == "mesh"
    assert model.bounds == api.Bounds(min=[0, 0, 0], max=[1, 2, 3])
    (uploaded,) = await loaders.upload_model(brayns_instance, path, loaders.MeshLoader())
    assert uploaded.info.load_info is not None
    assert uploaded.info.load_info.source == "from_blob"
    # The helpers take the typed classes too: their loader becomes the default.
    (again,) = await helpers.add_model(
        brayns_instance, str(path), loader_properties=loaders.MeshLoader()
    )
    assert again.info.load_info is not None
    assert again.info.load_info.load_parameters == {}
    with pytest.raises(ValueError, match="'protein' loader does not take uploads"):
        await loaders.upload_model(brayns_instance, path, loaders.ProteinLoader())
