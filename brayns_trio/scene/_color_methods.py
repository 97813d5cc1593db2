"""Colouring methods: the names of the ways core, morphology and circuit models are coloured."""

from __future__ import annotations

from typing import ClassVar


class ColorMethod:
    """Colouring methods of the core models, for :func:`brayns_trio.helpers.color_model`:
    meshes offer ``SOLID`` and ``TRIANGLE`` (and ``VERTEX`` when they have vertex colours),
    geometries ``SOLID`` and ``PRIMITIVE``."""

    SOLID: ClassVar[str] = "solid"
    PRIMITIVE: ClassVar[str] = "primitive"
    TRIANGLE: ClassVar[str] = "triangle"
    VERTEX: ClassVar[str] = "vertex"


class MorphologyColorMethod:
    """Colouring methods of morphology models (Circuit Explorer plugin)."""

    MORPHOLOGY_SECTION: ClassVar[str] = "morphology section"
    MORPHOLOGY_SECTION_GEOMETRY: ClassVar[str] = "morphology section geometry"


class CircuitColorMethod:
    """Colouring methods of circuit models (Circuit Explorer plugin), for
    :func:`brayns_trio.helpers.color_model`; :func:`brayns_trio.helpers.get_color_methods` lists
    those a model offers."""

    ID: ClassVar[str] = "id"
    ETYPE: ClassVar[str] = "etype"
    MTYPE: ClassVar[str] = "mtype"
    LAYER: ClassVar[str] = "layer"
    REGION: ClassVar[str] = "region"
    HEMISPHERE: ClassVar[str] = "hemisphere"
    MORPHOLOGY: ClassVar[str] = "morphology"
    MORPHOLOGY_CLASS: ClassVar[str] = "morphology class"
    MORPHOLOGY_SECTION: ClassVar[str] = "morphology section"
    SUBREGION: ClassVar[str] = "subregion"
    SYNAPSE_CLASS: ClassVar[str] = "synapse class"
