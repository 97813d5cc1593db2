"""What each Brayns method does to the scene, as the journal sees it.

Which methods create models (and of what kind, for the ``clear-*`` methods), which set a value
that the next call of the same kind replaces, which merge field by field, and which name model
ids in their params or results.
"""

from __future__ import annotations

# What a creating call creates, for the clear-* methods.
_RENDERABLE = "renderable"
_LIGHT = "light"
_CLIPPING = "clipping_geometry"
_CLIP_PLANE = "clip_plane"

_CREATORS: dict[str, str] = {
    "add-model": _RENDERABLE,
    "upload-model": _RENDERABLE,
    "add-spheres": _RENDERABLE,
    "add-boxes": _RENDERABLE,
    "add-planes": _RENDERABLE,
    "add-capsules": _RENDERABLE,
    "add-bounded-planes": _RENDERABLE,
    "instantiate-model": _RENDERABLE,
    "visualize-atlas-usecase": _RENDERABLE,
    "add-light-ambient": _LIGHT,
    "add-light-directional": _LIGHT,
    "add-light-quad": _LIGHT,
    "add-light-sphere": _LIGHT,
    "add-clip-plane": _CLIP_PLANE,
    "add-clipping-planes": _CLIPPING,
    "add-clipping-boxes": _CLIPPING,
    "add-clipping-spheres": _CLIPPING,
    "add-clipping-capsules": _CLIPPING,
    "add-clipping-bounded-planes": _CLIPPING,
}

_CLEARS: dict[str, frozenset[str]] = {
    "clear-models": frozenset({_RENDERABLE, _LIGHT, _CLIPPING, _CLIP_PLANE}),
    "clear-renderables": frozenset({_RENDERABLE}),
    "clear-lights": frozenset({_LIGHT}),
    "clear-clipping-geometries": frozenset({_CLIPPING, _CLIP_PLANE}),
    "clear-clip-planes": frozenset({_CLIP_PLANE}),
}

# Global setters: one compaction key each (several methods may share one: the last wins).
_SETTERS: dict[str, str] = {
    "set-camera-view": "camera-view",
    "set-camera-perspective": "camera",
    "set-camera-orthographic": "camera",
    "set-camera-cylindric": "camera",
    "set-camera-near-clip": "camera-near-clip",
    "set-camera-region": "camera-region",
    "set-renderer-interactive": "renderer",
    "set-renderer-production": "renderer",
    "set-framebuffer-static": "framebuffer",
    "set-framebuffer-progressive": "framebuffer",
    "set-application-parameters": "application",
    "set-simulation-parameters": "simulation",
}
_MERGED = frozenset({"set-application-parameters", "set-simulation-parameters", "update-model"})

# Setters of one model: the compaction key is (group, model id).
_MODEL_SETTERS: dict[str, str] = {
    "set-material-carpaint": "material",
    "set-material-emissive": "material",
    "set-material-ghost": "material",
    "set-material-glass": "material",
    "set-material-matte": "material",
    "set-material-metal": "material",
    "set-material-phong": "material",
    "set-material-plastic": "material",
    "set-material-principled": "material",
    "update-model": "update-model",
    "enable-simulation": "enable-simulation",
    "set-color-ramp": "color-ramp",
    "set-circuit-thickness": "circuit-thickness",
    "color-model": "color-model",
}

# Methods whose top-level ``id`` param is a model id (the others name theirs ``model_id``).
_ID_PARAM = frozenset(
    {
        "get-model",
        "color-model",
        "get-color-methods",
        "get-color-ramp",
        "get-color-values",
        "set-color-ramp",
        "get-material-carpaint",
        "get-material-emissive",
        "get-material-ghost",
        "get-material-glass",
        "get-material-matte",
        "get-material-metal",
        "get-material-phong",
        "get-material-plastic",
        "get-material-principled",
        "get-material-type",
    }
)

# Methods whose results hold ``model_id`` members.
_ID_RESULTS = frozenset(_CREATORS) | {"get-model", "get-scene", "inspect", "update-model"}
