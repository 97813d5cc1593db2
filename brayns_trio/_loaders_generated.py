"""Typed parameters of every Brayns 3.10 loader (generated: do not edit).

Generated from ``brayns_trio/_data/loaders.json`` by ``scripts/generate_loaders.py``.
"""

from __future__ import annotations

from typing import ClassVar, Literal, TypeAlias

import attrs

__all__ = [
    "LOADER_CLASSES",
    "BbpLoader",
    "BbpReportType",
    "CellPlacementLoader",
    "DtiLoader",
    "LoaderParams",
    "MeshLoader",
    "MhdVolumeLoader",
    "NeuronMorphologyGeometryType",
    "NeuronMorphologyLoader",
    "NeuronMorphologyLoaderParameters",
    "NrrdLoader",
    "NrrdType",
    "ProteinColorScheme",
    "ProteinLoader",
    "RawVolumeDataType",
    "RawVolumeLoader",
    "SonataEdgePopulationParameters",
    "SonataLoader",
    "SonataNodePopulationParameters",
    "SonataNodePopulationReportType",
    "VasculatureGeometrySettings",
    "XyzLoader",
]

BbpReportType: TypeAlias = Literal[
    "none",
    "spikes",
    "compartment",
]

NeuronMorphologyGeometryType: TypeAlias = Literal[
    "original",
    "smooth",
    "section_smooth",
    "constant_radii",
    "spheres",
]

NrrdType: TypeAlias = Literal[
    "scalar",
    "orientation",
    "flatmap",
    "layer_distance",
    "vector",
]

ProteinColorScheme: TypeAlias = Literal[
    "none",
    "by_id",
    "protein_atoms",
    "protein_chains",
    "protein_residues",
]

RawVolumeDataType: TypeAlias = Literal[
    "unsinged_char",
    "short",
    "unsigned_short",
    "half_float",
    "float",
    "double",
]

SonataNodePopulationReportType: TypeAlias = Literal[
    "none",
    "spikes",
    "compartment",
    "summation",
    "synapse",
    "bloodflow_pressure",
    "bloodflow_speed",
    "bloodflow_radii",
]


@attrs.frozen(kw_only=True)
class MeshLoader:
    """Parameters of the ``mesh`` loader (Core): files ``off``, ``stl``, ``ply``, ``obj``; takes
    uploads (binary).
    """

    LOADER_NAME: ClassVar[str] = "mesh"
    PLUGIN: ClassVar[str] = "Core"
    EXTENSIONS: ClassVar[tuple[str, ...]] = ("off", "stl", "ply", "obj")
    BINARY: ClassVar[bool] = True


@attrs.frozen(kw_only=True)
class MhdVolumeLoader:
    """Parameters of the ``mhd-volume`` loader (Core): files ``mhd``."""

    LOADER_NAME: ClassVar[str] = "mhd-volume"
    PLUGIN: ClassVar[str] = "Core"
    EXTENSIONS: ClassVar[tuple[str, ...]] = ("mhd",)
    BINARY: ClassVar[bool] = False


@attrs.frozen(kw_only=True)
class RawVolumeLoader:
    """Parameters of the ``raw-volume`` loader (Core): files ``raw``; takes uploads (binary)."""

    LOADER_NAME: ClassVar[str] = "raw-volume"
    PLUGIN: ClassVar[str] = "Core"
    EXTENSIONS: ClassVar[tuple[str, ...]] = ("raw",)
    BINARY: ClassVar[bool] = True

    data_type: RawVolumeDataType
    """Volume byte data type."""

    dimensions: list[int]
    """Volume grid size XYZ. 3 items. Each at least 0."""

    spacing: list[float]
    """Volume grid cell spacing XYZ. 3 items."""


@attrs.frozen(kw_only=True)
class NeuronMorphologyLoaderParameters:
    """The ``NeuronMorphologyLoaderParameters`` settings of a loader."""

    geometry_type: NeuronMorphologyGeometryType | None = None
    """Geometry generation configuration. Server default: ``"smooth"``."""

    growth: float | None = None
    """Neuron growth [0-1], includes all segments at 1 and none at 0. Server default: ``1``."""

    load_axon: bool | None = None
    """Load the axon section of the neuron. Server default: ``false``."""

    load_dendrites: bool | None = None
    """Load the dendrites section of the neuron. Server default: ``false``."""

    load_soma: bool | None = None
    """Load the soma section of the neuron. Server default: ``false``."""

    radius_multiplier: float | None = None
    """Parameter to multiply all morphology sample radii by. Minimum 0.1. Server default: ``1``."""

    resampling: float | None = None
    """Minimum angle cosine between 2 segments to merge them (disabled if > 1). Server default:
    ``2``.
    """

    subsampling: int | None = None
    """Skip factor when converting samples into geometry (disabled if <= 1). Minimum 0. Server
    default: ``1``.
    """


@attrs.frozen(kw_only=True)
class BbpLoader:
    """Parameters of the ``BBP loader`` loader (Circuit Explorer): files ``BlueConfig``,
    ``CircuitConfig``.
    """

    LOADER_NAME: ClassVar[str] = "BBP loader"
    PLUGIN: ClassVar[str] = "Circuit Explorer"
    EXTENSIONS: ClassVar[tuple[str, ...]] = ("BlueConfig", "CircuitConfig")
    BINARY: ClassVar[bool] = False

    gids: list[int] | None = None
    """List of GIDs to load, invalidates 'percentage' and 'targets' parameters. Each at least 0.
    Optional.
    """

    load_afferent_synapses: bool | None = None
    """Wether to add geometry for afferent synapses or not. Server default: ``false``."""

    load_efferent_synapses: bool | None = None
    """Wether to add geometry for efferent synapses or not. Server default: ``false``."""

    neuron_morphology_parameters: NeuronMorphologyLoaderParameters | None = None
    """Settings to configure neuron morphology loading. Server default: ``{}``."""

    percentage: float | None = None
    """Percentage of neurons to load (Ignored if a list of gids is specified). From 0 to 1. Server
    default: ``0.1``.
    """

    report_name: str | None = None
    """Name of the report to load, used only if 'report_type' is 'compartment'. Optional."""

    report_type: BbpReportType | None = None
    """Type of report to load. Server default: ``"none"``."""

    spike_transition_time: float | None = None
    """For spike reports, fade-in/out time [ms] from resting to spike state. Minimum 0. Server
    default: ``1``.
    """

    targets: list[str] | None = None
    """List of targets to load (empty = default target) (Ignored if a list of gids is specified).
    Optional.
    """


@attrs.frozen(kw_only=True)
class CellPlacementLoader:
    """Parameters of the ``Cell placement loader`` loader (Circuit Explorer): files
    ``circuit.morphologies.h5``.
    """

    LOADER_NAME: ClassVar[str] = "Cell placement loader"
    PLUGIN: ClassVar[str] = "Circuit Explorer"
    EXTENSIONS: ClassVar[tuple[str, ...]] = ("circuit.morphologies.h5",)
    BINARY: ClassVar[bool] = False

    extension: str | None = None
    """Morphology file extension. Optional."""

    ids: list[int] | None = None
    """IDs of the nodes to load (overrides percentage). Each at least 0. Optional."""

    morphology_folder: str | None = None
    """Path to morphology folder. Optional."""

    morphology_parameters: NeuronMorphologyLoaderParameters | None = None
    """Settings for morphology geometry loading. Server default: ``{}``."""

    percentage: float | None = None
    """Percentage of cells to load. From 0 to 1. Server default: ``1``."""


@attrs.frozen(kw_only=True)
class NeuronMorphologyLoader:
    """Parameters of the ``Neuron Morphology loader`` loader (Circuit Explorer): files ``swc``,
    ``h5``, ``asc``.
    """

    LOADER_NAME: ClassVar[str] = "Neuron Morphology loader"
    PLUGIN: ClassVar[str] = "Circuit Explorer"
    EXTENSIONS: ClassVar[tuple[str, ...]] = ("swc", "h5", "asc")
    BINARY: ClassVar[bool] = False

    geometry_type: NeuronMorphologyGeometryType | None = None
    """Geometry generation configuration. Server default: ``"smooth"``."""

    growth: float | None = None
    """Neuron growth [0-1], includes all segments at 1 and none at 0. Server default: ``1``."""

    load_axon: bool | None = None
    """Load the axon section of the neuron. Server default: ``false``."""

    load_dendrites: bool | None = None
    """Load the dendrites section of the neuron. Server default: ``false``."""

    load_soma: bool | None = None
    """Load the soma section of the neuron. Server default: ``false``."""

    radius_multiplier: float | None = None
    """Parameter to multiply all morphology sample radii by. Minimum 0.1. Server default: ``1``."""

    resampling: float | None = None
    """Minimum angle cosine between 2 segments to merge them (disabled if > 1). Server default:
    ``2``.
    """

    subsampling: int | None = None
    """Skip factor when converting samples into geometry (disabled if <= 1). Minimum 0. Server
    default: ``1``.
    """


@attrs.frozen(kw_only=True)
class SonataEdgePopulationParameters:
    """The ``SonataEdgePopulationParameters`` settings of a loader."""

    edge_percentage: float | None = None
    """Percentage of edges to load from all available. From 0 to 1. Server default: ``1``."""

    edge_population: str
    """Name of the edge population to load."""

    edge_report_name: str | None = None
    """Name of a synapse report to load along the edge population. Optional."""

    load_afferent: bool
    """Wether to load afferent or efferent edges."""

    radius: float | None = None
    """Radius used for the synapse sphere geometry (Ignored for endfeet). Minimum 0.1. Server
    default: ``2``.
    """


@attrs.frozen(kw_only=True)
class VasculatureGeometrySettings:
    """The ``VasculatureGeometrySettings`` settings of a loader."""

    radius_multiplier: float | None = None
    """Factor to multiply all vasculature sample radii. Minimum 0.1. Server default: ``1``."""


@attrs.frozen(kw_only=True)
class SonataNodePopulationParameters:
    """The ``SonataNodePopulationParameters`` settings of a loader."""

    edge_populations: list[SonataEdgePopulationParameters] | None = None
    """List of edge populations to load and their settings. Optional."""

    neuron_morphology_parameters: NeuronMorphologyLoaderParameters | None = None
    """Settings for morphology geometry loading (ignored for vasculature populations). Server
    default: ``{}``.
    """

    node_count_limit: int | None = None
    """Maximum number of nodes to load. Minimum 0. Optional."""

    node_ids: list[int] | None = None
    """List of node IDs to load (invalidates 'node_percentage' and 'node_sets'). Each at least 0.
    Optional.
    """

    node_percentage: float | None = None
    """Percentage of nodes to load (after nodeset filter) (ignored if node_ids is provided). From 0
    to 1. Server default: ``0.01``.
    """

    node_population: str
    """Name of the node population to load."""

    node_sets: list[str] | None = None
    """List of node set names/regex to filter the node population (ignored if node_ids is provided).
    Optional.
    """

    report_name: str | None = None
    """Name of the report file to load (ignored if report_type is 'none' or 'spikes'). Optional."""

    report_type: SonataNodePopulationReportType | None = None
    """Type of report to load for the given node population. Server default: ``"none"``."""

    spike_transition_time: float | None = None
    """When loading a spike report, fade-in/out time [ms], from resting to spike state. Minimum 0.
    Server default: ``1``.
    """

    vasculature_geometry_parameters: VasculatureGeometrySettings | None = None
    """Settings for vasculature geometry load (ignored for any non-vasculature population. Server
    default: ``{}``.
    """


@attrs.frozen(kw_only=True)
class SonataLoader:
    """Parameters of the ``SONATA loader`` loader (Circuit Explorer): files ``.json``."""

    LOADER_NAME: ClassVar[str] = "SONATA loader"
    PLUGIN: ClassVar[str] = "Circuit Explorer"
    EXTENSIONS: ClassVar[tuple[str, ...]] = (".json",)
    BINARY: ClassVar[bool] = False

    node_population_settings: list[SonataNodePopulationParameters]
    """List of node populations to load and their settings."""


@attrs.frozen(kw_only=True)
class NrrdLoader:
    """Parameters of the ``NRRD loader`` loader (Atlas Explorer): files ``.nrrd``."""

    LOADER_NAME: ClassVar[str] = "NRRD loader"
    PLUGIN: ClassVar[str] = "Atlas Explorer"
    EXTENSIONS: ClassVar[tuple[str, ...]] = (".nrrd",)
    BINARY: ClassVar[bool] = False

    type: NrrdType
    """Voxel type to interpret the atlas being loaded."""


@attrs.frozen(kw_only=True)
class DtiLoader:
    """Parameters of the ``DTI loader`` loader (DTI): files ``json``."""

    LOADER_NAME: ClassVar[str] = "DTI loader"
    PLUGIN: ClassVar[str] = "DTI"
    EXTENSIONS: ClassVar[tuple[str, ...]] = ("json",)
    BINARY: ClassVar[bool] = False

    radius: float
    """Connectivity streamlines radius."""

    spike_decay_time: float | None = None
    """Time [ms], that a spikes takes to go from the beginning to the end of the streamline. Minimum
    0. Server default: ``1``.
    """


@attrs.frozen(kw_only=True)
class ProteinLoader:
    """Parameters of the ``protein`` loader (Molecule Explorer): files ``pdb``, ``pdb1``."""

    LOADER_NAME: ClassVar[str] = "protein"
    PLUGIN: ClassVar[str] = "Molecule Explorer"
    EXTENSIONS: ClassVar[tuple[str, ...]] = ("pdb", "pdb1")
    BINARY: ClassVar[bool] = False

    color_scheme: ProteinColorScheme | None = None
    """Proteins coloring scheme. Server default: ``"none"``."""

    radius_multiplier: float | None = None
    """Protein sample radius multiplier. Server default: ``1``."""


@attrs.frozen(kw_only=True)
class XyzLoader:
    """Parameters of the ``xyz`` loader (Molecule
    Explorer): files ``xyz``; takes uploads (binary).
    """

    LOADER_NAME: ClassVar[str] = "xyz"
    PLUGIN: ClassVar[str] = "Molecule Explorer"
    EXTENSIONS: ClassVar[tuple[str, ...]] = ("xyz",)
    BINARY: ClassVar[bool] = True


LoaderParams: TypeAlias = (
    BbpLoader
    | CellPlacementLoader
    | DtiLoader
    | MeshLoader
    | MhdVolumeLoader
    | NeuronMorphologyLoader
    | NrrdLoader
    | ProteinLoader
    | RawVolumeLoader
    | SonataLoader
    | XyzLoader
)
"""The parameters of any loader: the class picks the loader."""

LOADER_CLASSES: dict[str, type[LoaderParams]] = {
    "mesh": MeshLoader,
    "mhd-volume": MhdVolumeLoader,
    "raw-volume": RawVolumeLoader,
    "BBP loader": BbpLoader,
    "Cell placement loader": CellPlacementLoader,
    "Neuron Morphology loader": NeuronMorphologyLoader,
    "SONATA loader": SonataLoader,
    "NRRD loader": NrrdLoader,
    "DTI loader": DtiLoader,
    "protein": ProteinLoader,
    "xyz": XyzLoader,
}
"""Each loader name (as ``get-loaders`` lists it) -> its parameters class."""
