"""The global engine state of the fake server: a plain scene model and the synchronous handlers.

All state is global and shared by every client (protocol.md 3.6).

Data model (what a renderer reads; every attribute is plain Python data):

- :attr:`BraynsState.models`: ``{model_id: Model}`` in insertion order (``get-scene`` order).
  A :class:`Model` has ``model_type`` ("geometry", "mesh", "Volume", "light",
  "clip_geometry", "clipping_geometry"), ``kind`` (what its primitives are: "spheres", "boxes",
  "capsules", "planes", "bounded-planes", "mesh", "volume", "light-ambient",
  "light-directional", "light-quad", "light-sphere", "clip-spheres", "clip-boxes",
  "clip-capsules", "clip-planes", "clip-bounded-planes", "clip-plane"), ``primitives`` (the
  geometry objects as sent, e.g. ``{"center": [x, y, z], "radius": r}``; for a mesh one
  ``{"vertices": [[x, y, z], ...], "triangles": [[i, j, k], ...]}``; for a light one object with
  every field, defaults filled in; for clipping the primitives as sent, and
  ``invert_normals``), ``colors`` (one RGBA
  per primitive for geometries, per triangle for meshes, set by ``color-model``),
  ``material`` (``(type, values)`` or None), ``transform`` (translation, rotation quaternion
  XYZW, scale; world = rotate(scale * local) + translation), ``is_visible`` and
  ``local_bounds``; :meth:`Model.bounds` gives the world bounds.
- the capsule, plane and box primitives keep the message fields (``p0``, ``r0``, ``p1``, ``r1``;
  ``coefficients`` a, b, c, d of ax + by + cz + d = 0; ``min``, ``max``; bounded planes add
  ``bounds``); :func:`transform_point` applies a model's transform.
- camera: :attr:`camera_type` ("perspective", "orthographic"), :attr:`projections` (the
  values of each projection), :attr:`view` (position, target, up), :attr:`near_clip`,
  :attr:`region` (image_start, image_end, normalized, y flipped).
- renderer: :attr:`renderer_type` and :attr:`renderers` (values of each type, with
  ``background_color`` RGBA linear and ``samples_per_pixel``).
- application: :attr:`viewport` ([width, height]); framebuffer: :attr:`framebuffer`.
- :meth:`BraynsState.frame_settings` resolves all of the camera and renderer state, with a
  snapshot's overrides, into the one plain object a frame is drawn from;
  :meth:`BraynsState.frame_scene` turns the models and those settings into the plain
  :class:`~._render.Scene` the ray caster draws (``_render.scene_from_state``), which
  :meth:`BraynsState.encode_scene` and :meth:`BraynsState.encode_scene_gbuffers` draw and
  encode, in any thread.

Values and errors follow a real braynsService 3.10.1 as recorded in the conformance corpus
(``tests/conformance/corpus.jsonl``), which wins over the documentation. Rules where the two
disagree or the documentation is silent (case names from the corpus):

- fresh renderer is `interactive` (background [0.004, 0.016, 0.102, 0], shadows on, 3 bounces, 1
  sample); a fresh `production` has background [0, 0, 0, 1], 3 bounces, 5 samples
  (defaults/get-renderer-type, roundtrip/set-renderer-production/2);
- fresh camera view is position [0, 0, 0], target [0, 0, 1], up [0, 1, 0], and adding models
  never moves it (defaults/get-camera-view, defaults/camera-view-after-models);
- `set-camera-*` and `set-renderer-*` keep the fields left out, `set-material-*` resets them to
  the material's defaults (roundtrip/perspective-partial-update,
  roundtrip/material-partial-update);
- value checks after the schema are -32603: near clip < 0, orthographic height <= 0, fovy <= 0,
  an empty or out-of-[0, 1] region, a view whose position equals its target or whose direction is
  aligned with up, a simulation frame out of range (no clamping), `add-*` with an empty list
  ("OSPData: shared buffer is NULL") (roundtrip/set-camera-near-clip/2,
  roundtrip/set-camera-orthographic/2, roundtrip/set-camera-perspective/4,
  roundtrip/set-camera-region/3, roundtrip/set-camera-view/1, roundtrip/set-camera-view/2,
  roundtrip/set-simulation-parameters/2, scene/add-clipping-empty-primitives);
- `add-clipping-*` make a `clip_geometry`, the deprecated `add-clip-plane` a
  `clipping_geometry`; `clear-clip-planes` and `clear-clipping-geometries` remove both,
  `clear-renderables` removes geometries, meshes and volumes only (scene/add-clip-plane,
  scene/clear-clip-planes-on-mixed, scene/clear-renderables-on-mixed);
- freed ids are reused most recently freed first, and a reused id comes last in `get-scene`;
  `clear-models` restarts them at 0 (scene/clear-clip-planes-on-mixed,
  scene/clear-models-on-mixed);
- `remove-model` looks every id up before removing any (scene/remove-model);
- geometry bounds take the absolute radius and the component-wise min/max of a box's corners;
  lights have empty bounds except quad lights (scene/add-spheres-negative-radius,
  scene/add-boxes-inverted, scene/add-light-quad);
- `update-model` with a transform replaces the whole transform (left-out parts back to
  identity); bounds are computed in double precision then rounded to float, a zero quaternion
  collapses them to the translation (scene/update-model);
- `remove-model` and `instantiate-model` on a missing id: -32603 "No instance with id N was
  found" (scene/remove-model, errors/instantiate-model/unknown-model-id);
- lights, clipping geometries and volumes have no material: code 0 "The model does not have
  material" (errors/wrong-model-type/material-on-light);
- color methods: geometries ["primitive", "solid"], meshes ["solid", "triangle"], others [];
  `get-color-values` answers ["color"] for solid and a range "0-N" for primitive/triangle;
  `color-model` with empty values: -32602 "Color values cannot be empty", checked before the
  model (coloring/spheres, coloring/light, errors/color-model/unknown-model-id);
- `enable-simulation` on a model without simulation and `get-color-ramp` on a model without a
  ramp: code 0, `set-color-ramp` without a ramp: -32600 (errors/wrong-model-type/simulation,
  errors/wrong-model-type/color-ramp);
- `render-image`: `max_accumulation` is the renderer's `samples_per_pixel`; each call adds one
  frame (all remaining ones with `accumulate`), no new image once complete unless the scene
  changed or `force`; a progressive framebuffer's first frame is downscaled; formats are "png"
  and "jpg" (any case), anything else -32603 "Format not supported: '<f>'"
  (image/render-image-production, image/render-image-accumulation-progressive,
  errors/render-image-bad-format);
- `inspect` casts a ray through the normalized screen position (y up) and reports the nearest
  visible geometry or mesh hit, ignoring clipping; a miss reports model 0 at the origin
  (inspect/hit-and-miss, inspect/two-models, inspect/clipped).
"""

from __future__ import annotations

import copy
import json
import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from importlib import resources
from typing import Any

from .._methods import load_entrypoints as entrypoint_rows
from .._validation import validate
from ._errors import INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, JsonRpcError
from ._exr import ExrError
from ._loaders import Mesh, Volume
from ._render import Scene, encode_frame, encode_gbuffers, scene_from_state
from ._titles import LOADER_TITLES, SCHEMA_TITLES

__all__ = [
    "PLUGINS",
    "BraynsState",
    "Entrypoint",
    "Model",
    "load_entrypoints",
    "load_loaders",
    "transform_point",
]

# Command-line plugin name -> the `plugin` value of its entrypoints/loaders in the data files.
PLUGINS: dict[str, str] = {
    "braynsCircuitExplorer": "Circuit Explorer",
    "braynsAtlasExplorer": "Atlas Explorer",
    "braynsCylindricCamera": "Cylindric Camera",
    "braynsDTI": "DTI",
    "braynsMoleculeExplorer": "Molecule Explorer",
}

FLT_MAX = 3.4028235e38
EMPTY_BOUNDS = ([FLT_MAX] * 3, [-FLT_MAX] * 3)
CODE_ZERO = 0  # a few Brayns exceptions carry no JSON-RPC code

# `registry` order of the core entrypoints on a real 3.10.1 (registration order).
CORE_REGISTRY = (
    "get-version",
    "upload-model",
    "snapshot",
    "set-framebuffer-static",
    "set-renderer-production",
    "set-material-principled",
    "set-material-phong",
    "set-material-metal",
    "set-material-ghost",
    "set-material-emissive",
    "set-material-carpaint",
    "set-material-plastic",
    "set-color-ramp",
    "set-camera-view",
    "set-camera-perspective",
    "set-camera-orthographic",
    "set-camera-near-clip",
    "export-gbuffers",
    "enable-simulation",
    "get-camera-view",
    "color-model",
    "set-renderer-interactive",
    "get-camera-near-clip",
    "set-simulation-parameters",
    "get-material-type",
    "clear-renderables",
    "clear-models",
    "add-clipping-planes",
    "get-application-parameters",
    "clear-lights",
    "get-camera-orthographic",
    "clear-clipping-geometries",
    "add-model",
    "add-light-sphere",
    "schema",
    "get-camera-perspective",
    "get-color-values",
    "remove-model",
    "set-application-parameters",
    "clear-clip-planes",
    "cancel",
    "add-clipping-boxes",
    "add-clip-plane",
    "add-bounded-planes",
    "update-model",
    "get-scene",
    "set-material-glass",
    "get-model",
    "add-spheres",
    "add-boxes",
    "get-camera-type",
    "add-capsules",
    "get-material-glass",
    "add-clipping-bounded-planes",
    "add-clipping-capsules",
    "add-clipping-spheres",
    "set-framebuffer-progressive",
    "set-material-matte",
    "add-light-directional",
    "add-planes",
    "add-light-quad",
    "add-light-ambient",
    "get-color-methods",
    "get-color-ramp",
    "get-loaders",
    "render-image",
    "get-material-carpaint",
    "get-material-emissive",
    "get-material-ghost",
    "get-camera-region",
    "instantiate-model",
    "get-material-matte",
    "get-material-metal",
    "get-renderer-production",
    "get-material-phong",
    "set-camera-region",
    "inspect",
    "get-material-plastic",
    "get-material-principled",
    "get-renderer-interactive",
    "get-renderer-type",
    "get-simulation-parameters",
    "quit",
    "registry",
)

MATERIAL_DEFAULTS: dict[str, dict[str, Any]] = {
    "carpaint": {"flake_density": 0},
    "emissive": {"color": [1, 1, 1], "intensity": 1},
    "ghost": {},
    "glass": {"index_of_refraction": 1.5},
    "matte": {"opacity": 1},
    "metal": {"roughness": 1},
    "phong": {"opacity": 1},
    "plastic": {"opacity": 1},
    "principled": {
        "anisotropy": 0,
        "anisotropy_rotation": 0,
        "back_light": 0,
        "coat": 0,
        "coat_color": [1, 1, 1],
        "coat_ior": 1.5,
        "coat_roughness": 0,
        "coat_thickness": 1,
        "diffuse": 1,
        "edge_color": [1, 1, 1],
        "ior": 1,
        "metallic": 0,
        "roughness": 0,
        "sheen": 0,
        "sheen_color": [1, 1, 1],
        "sheen_roughness": 0.2,
        "sheen_tint": 0,
        "specular": 1,
        "thickness": 1,
        "thin": False,
        "transmission": 0,
        "transmission_color": [1, 1, 1],
        "transmission_depth": 1,
    },
}
DEFAULT_COLOR_RAMP: dict[str, Any] = {"colors": [[0, 0, 0, 0], [1, 1, 1, 1]], "range": [0, 255]}
IMAGE_FORMATS = ("png", "jpg")
MIN_FRAME_SIDE = 64
# The largest frame the fake draws: 16384 pixels a side and 64 megapixels (a 256 MiB RGBA
# framebuffer, gigabytes of float buffers on a real server, which aborts when it runs out).
MAX_FRAME_SIDE = 16384
MAX_FRAME_PIXELS = 8192 * 8192

Vec3 = list[float]
Bounds = tuple[Vec3, Vec3]
HandlerResult = tuple[Any, bytes | None]


@dataclass(frozen=True)
class Entrypoint:
    """One row of ``entrypoints.json``."""

    method: str
    plugin: str
    description: str
    is_async: bool
    deprecated: bool
    params: dict[str, Any] | None
    result: dict[str, Any] | None


def _data(name: str) -> Any:
    return json.loads(resources.files("brayns_trio").joinpath("_data", name).read_text("utf-8"))


def load_entrypoints(plugins: Sequence[str]) -> dict[str, Entrypoint]:
    """Return the entrypoints of the core and the given plugins, in ``registry`` order."""
    enabled = {"Core"} | {PLUGINS[name] for name in plugins}
    rows = {
        row["method"]: Entrypoint(
            row["method"],
            row["plugin"],
            row["description"],
            row["async"],
            row["deprecated"],
            row["params"],
            row["result"],
        )
        for row in entrypoint_rows()
        if row["plugin"] in enabled
    }
    ordered = {method: rows.pop(method) for method in CORE_REGISTRY if method in rows}
    ordered.update(rows)
    return ordered


def load_loaders(plugins: Sequence[str]) -> list[dict[str, Any]]:
    """Return the ``get-loaders`` items of the core and the given plugins, in registration order."""
    enabled = {"Core"} | {PLUGINS[name] for name in plugins}
    loaders = []
    for row in _data("loaders.json"):
        if row["plugin"] not in enabled:
            continue
        item = copy.deepcopy(row)
        schema = item["input_parameters_schema"]
        # The data file lost the schemas' top-level title (docs generator); the live server has it.
        if "title" not in schema:
            schema["title"] = LOADER_TITLES.get(item["name"], "LoaderParameters")
        loaders.append(item)
    return loaders


def _get(params: Any, key: str, schema: dict[str, Any] | None) -> Any:
    """Read a member, falling back to the schema default (as Brayns' deserializer does)."""
    value = params.get(key) if isinstance(params, dict) else None
    if value is None and schema is not None:
        value = copy.deepcopy(schema.get("properties", {}).get(key, {}).get("default"))
    return value


def _identity() -> dict[str, list[float]]:
    return {"rotation": [0, 0, 0, 1], "scale": [1, 1, 1], "translation": [0, 0, 0]}


def _float32(value: float) -> float:
    if not math.isfinite(value) or abs(value) >= FLT_MAX:
        return value
    return float(struct.unpack("f", struct.pack("f", value))[0])


def _rotation_matrix(q: Sequence[float]) -> list[list[float]]:
    """glm::mat3_cast of an (unnormalized) XYZW quaternion, rows of the matrix."""
    x, y, z, w = q
    return [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]


def transform_point(transform: dict[str, Any], point: Sequence[float]) -> Vec3:
    """Apply scale, rotation and translation to a point (as a renderer would)."""
    scaled = [c * s for c, s in zip(point, transform["scale"], strict=True)]
    matrix = _rotation_matrix(transform["rotation"])
    return [
        sum(m * c for m, c in zip(row, scaled, strict=True)) + t
        for row, t in zip(matrix, transform["translation"], strict=True)
    ]


def _is_empty(bounds: Bounds) -> bool:
    return any(a > b for a, b in zip(bounds[0], bounds[1], strict=True))


def _transform_bounds(bounds: Bounds, transform: dict[str, Any]) -> Bounds:
    if _is_empty(bounds):
        return EMPTY_BOUNDS
    if not any(transform["rotation"]):
        # A zero quaternion collapses everything onto the translation (scene/update-model).
        point = [_float32(t) for t in transform["translation"]]
        return list(point), list(point)
    low, high = bounds
    corners = [
        [(low, high)[i][0], (low, high)[j][1], (low, high)[k][2]]
        for i in (0, 1)
        for j in (0, 1)
        for k in (0, 1)
    ]
    moved = [transform_point(transform, corner) for corner in corners]
    return (
        [_float32(min(p[a] for p in moved)) for a in range(3)],
        [_float32(max(p[a] for p in moved)) for a in range(3)],
    )


def _union(boxes: Sequence[Bounds]) -> Bounds:
    low, high = [FLT_MAX] * 3, [-FLT_MAX] * 3
    for box in boxes:
        if _is_empty(box):
            continue
        low = [min(a, b) for a, b in zip(low, box[0], strict=True)]
        high = [max(a, b) for a, b in zip(high, box[1], strict=True)]
    return low, high


@dataclass
class Model:
    """A model instance of the scene (see the module docstring for the meaning of each field)."""

    model_id: int
    model_type: str
    kind: str
    local_bounds: Bounds
    primitives: list[dict[str, Any]] = field(default_factory=list)
    colors: list[list[float]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    is_visible: bool = True
    transform: dict[str, Any] = field(default_factory=_identity)
    material: tuple[str, dict[str, Any]] | None = None
    color_methods: tuple[str, ...] = ()
    color_ramp: dict[str, Any] | None = None
    volume: Volume | None = None
    invert_normals: bool = False  # clipping: keep what is inside instead

    def bounds(self) -> Bounds:
        """World bounds (the transformed local bounds)."""
        return _transform_bounds(self.local_bounds, self.transform)

    def to_json(self) -> dict[str, Any]:
        """The ``ModelInstance`` message."""
        low, high = self.bounds()
        return {
            "bounds": {"max": high, "min": low},
            "info": copy.deepcopy(self.info),
            "is_visible": self.is_visible,
            "model_id": self.model_id,
            "model_type": self.model_type,
            "transform": copy.deepcopy(self.transform),
        }

    def copy_as(self, model_id: int, transform: dict[str, Any]) -> Model:
        """A new instance of the same model (``instantiate-model``)."""
        clone = copy.deepcopy(self)
        clone.model_id = model_id
        clone.transform = transform
        return clone


def _sample(schema: dict[str, Any] | None) -> Any:
    """Build a plausible value for a result schema (used for plugin entrypoints)."""
    if schema is None:
        return None
    if "default" in schema:
        return copy.deepcopy(schema["default"])
    if schema.get("oneOf"):
        return _sample(schema["oneOf"][0])
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        if isinstance(schema.get("additionalProperties"), dict):
            return {}
        return {key: _sample(value) for key, value in schema.get("properties", {}).items()}
    if kind == "array":
        return [_sample(schema.get("items", {})) for _ in range(schema.get("minItems", 0))]
    if kind in ("number", "integer"):
        low = schema.get("minimum", 0)
        high = schema.get("maximum")
        value = max(low, 1) if high is None else min(max(low, 1), high)
        return int(value) if kind == "integer" else value
    if kind == "string":
        return ""
    if kind == "boolean":
        return False
    return None


def _projection_defaults() -> dict[str, dict[str, Any]]:
    return {
        "perspective": {"aperture_radius": 0, "focus_distance": 1, "fovy": 45},
        "orthographic": {"height": 1},
        "cylindric": {"fovy": 90},
    }


def _renderer_defaults() -> dict[str, dict[str, Any]]:
    return {
        "interactive": {
            "ao_samples": 0,
            "background_color": [0.004, 0.016, 0.102, 0],
            "enable_shadows": True,
            "max_ray_bounces": 3,
            "samples_per_pixel": 1,
        },
        "production": {
            "background_color": [0, 0, 0, 1],
            "max_ray_bounces": 3,
            "samples_per_pixel": 5,
        },
    }


def _sub(a: Sequence[float], b: Sequence[float]) -> Vec3:
    return [x - y for x, y in zip(a, b, strict=True)]


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _cross(a: Sequence[float], b: Sequence[float]) -> Vec3:
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]


def _normalize(v: Sequence[float]) -> Vec3:
    length = math.sqrt(_dot(v, v))
    return [c / length for c in v] if length else list(v)


def _ray_sphere(
    origin: Vec3, direction: Vec3, center: Sequence[float], radius: float
) -> float | None:
    oc = _sub(origin, center)
    b = _dot(oc, direction)
    c = _dot(oc, oc) - radius * radius
    disc = b * b - c
    if disc < 0:
        return None
    root = math.sqrt(disc)
    for t in (-b - root, -b + root):
        if t > 1e-9:
            return t
    return None


def _ray_box(
    origin: Vec3, direction: Vec3, low: Sequence[float], high: Sequence[float]
) -> float | None:
    near, far = -math.inf, math.inf
    for o, d, a, b in zip(origin, direction, low, high, strict=True):
        if abs(d) < 1e-12:
            if not min(a, b) <= o <= max(a, b):
                return None
            continue
        t1, t2 = (min(a, b) - o) / d, (max(a, b) - o) / d
        near, far = max(near, min(t1, t2)), min(far, max(t1, t2))
    if near > far or far < 1e-9:
        return None
    return near if near > 1e-9 else far


def _ray_triangle(
    origin: Vec3, direction: Vec3, a: Sequence[float], b: Sequence[float], c: Sequence[float]
) -> float | None:
    e1, e2 = _sub(b, a), _sub(c, a)
    p = _cross(direction, e2)
    det = _dot(e1, p)
    if abs(det) < 1e-12:
        return None
    s = _sub(origin, a)
    u = _dot(s, p) / det
    q = _cross(s, e1)
    v = _dot(direction, q) / det
    t = _dot(e2, q) / det
    if u < 0 or v < 0 or u + v > 1 or t <= 1e-9:
        return None
    return t


class BraynsState:
    """Scene, camera, renderer, framebuffer, application and simulation state of one server.

    ``version`` counts state changes; render-image accumulates frames while it does not move.
    """

    def __init__(
        self,
        *,
        entrypoints: dict[str, Entrypoint],
        loaders: list[dict[str, Any]],
        plugins: Sequence[str],
        window_size: tuple[int, int],
        png_compression: int,
        version: tuple[int, int, int, str],
    ) -> None:
        self.entrypoints = entrypoints
        self.loaders = loaders
        self.plugins = list(plugins)
        self.viewport = list(window_size)
        self.png_compression = png_compression
        self.brayns_version = version
        self.models: dict[int, Model] = {}
        self._next_id = 0
        self._released: list[int] = []
        self.camera_type = "perspective"
        self.projections = _projection_defaults()
        self.view: dict[str, Vec3] = {"position": [0, 0, 0], "target": [0, 0, 1], "up": [0, 1, 0]}
        self.near_clip: float = 1e-06
        self.region = {"image_end": [1, 0], "image_start": [0, 1]}
        self.renderer_type = "interactive"
        self.renderers = _renderer_defaults()
        self.framebuffer: dict[str, Any] = {"type": "static"}
        self.simulation: dict[str, Any] = {
            "current": 0,
            "dt": 0,
            "end_frame": 0,
            "start_frame": 0,
            "unit": "ms",
        }
        self.version = 0
        self._accumulated_version = -1
        self.accumulation = 0
        self._handlers: dict[str, Callable[[Any, bytes], HandlerResult]] = {}
        self._register()

    # ---- models -------------------------------------------------------------------------
    def _new_id(self) -> int:
        # Freed IDs are reused, most recently freed first (scene/clear-*-on-mixed).
        if self._released:
            return self._released.pop()
        self._next_id += 1
        return self._next_id - 1

    def add_model(self, model_type: str, kind: str, bounds: Bounds, **kwargs: Any) -> Model:
        """Create, store and return a model with the next free ID."""
        model = Model(self._new_id(), model_type, kind, bounds, **kwargs)
        self.models[model.model_id] = model
        self.version += 1
        return model

    def get_model(self, model_id: int) -> Model:
        """Return a model or raise the real server's -32602."""
        model = self.models.get(model_id)
        if model is None:
            raise JsonRpcError(INVALID_PARAMS, f"No model found with ID {model_id}")
        return model

    def _instance(self, model_id: int) -> Model:
        model = self.models.get(model_id)
        if model is None:
            raise JsonRpcError(INTERNAL_ERROR, f"No instance with id {model_id} was found")
        return model

    def remove_models(self, drop: Callable[[Model], bool]) -> None:
        """Remove every model for which ``drop`` is true and release their IDs."""
        for model_id in [i for i, m in self.models.items() if drop(m)]:
            del self.models[model_id]
            self._released.append(model_id)
        self.version += 1

    def scene_bounds(self) -> Bounds:
        """Union of the models' world bounds (empty bounds are ignored)."""
        return _union([model.bounds() for model in self.models.values()])

    def add_mesh(self, mesh: Mesh, load_info: dict[str, Any]) -> list[Any]:
        """Add a loaded mesh and return the ModelInstance list the loaders reply."""
        low = [_float32(min(v[a] for v in mesh.vertices)) for a in range(3)]
        high = [_float32(max(v[a] for v in mesh.vertices)) for a in range(3)]
        faces = len(mesh.triangles)
        info = {
            "load_info": load_info,
            # Values are strings, and the loader unrolls triangles (protocol.md Appendix B).
            "metadata": {"faces": str(faces), "meshes": "1", "vertices": str(3 * faces)},
        }
        model = self.add_model(
            "mesh",
            "mesh",
            (low, high),
            primitives=[
                {"vertices": mesh.vertices, "triangles": [list(t) for t in mesh.triangles]}
            ],
            colors=[[1, 1, 1, 1] for _ in mesh.triangles],
            info=info,
            material=("phong", dict(MATERIAL_DEFAULTS["phong"])),
            color_methods=("solid", "triangle"),
        )
        return [model.to_json()]

    def add_volume(self, volume: Volume, load_info: dict[str, Any]) -> list[Any]:
        """Add a loaded volume and return the ModelInstance list the loaders reply."""
        high = [d * s for d, s in zip(volume.dimensions, volume.spacing, strict=True)]
        model = self.add_model(
            "Volume",
            "volume",
            ([0.0, 0.0, 0.0], high),
            info={"load_info": load_info},
            color_ramp=copy.deepcopy(DEFAULT_COLOR_RAMP),
            volume=volume,
        )
        return [model.to_json()]

    def find_loader(self, name: str, extension: str | None = None) -> dict[str, Any]:
        """Return the named loader, or the first one for ``extension`` if ``name`` is empty."""
        for loader in self.loaders:
            if name and loader["name"] == name:
                return loader
            if not name and extension is not None and extension in loader["extensions"]:
                return loader
        if not name:
            # No loader for the extension: the mesh loader gets to refuse it.
            return self.loaders[0]
        raise JsonRpcError(INVALID_PARAMS, f"Invalid loader name: '{name}'")

    # ---- simulation and render settings --------------------------------------------------
    def check_simulation_frame(self, frame: int | None) -> None:
        """Raise the real -32603 for a frame outside [start_frame, end_frame]."""
        if frame is None:
            return
        if not self.simulation["start_frame"] <= frame <= self.simulation["end_frame"]:
            raise JsonRpcError(INTERNAL_ERROR, "Simulation frame out of range")

    def frame_settings(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """How a frame is to be rendered: the current settings with a request's overrides.

        ``overrides`` are snapshot/export-gbuffers params (``renderer`` and ``camera`` as
        ``{"name", "params"}``, ``camera_view``, ``camera_near_clip``, ``image_start``,
        ``image_end``, ``simulation_frame``), checked as the real server checks them. An
        overridden renderer or camera is a fresh object of that type (defaults, then the given
        params). Returns plain data::

            {"renderer": {"name", "background_color", "samples_per_pixel", ...},
             "camera": {"name", <projection values>}, "view": {"position", "target", "up"},
             "near_clip": float, "region": {"image_start", "image_end"}}
        """
        overrides = overrides or {}
        self.check_simulation_frame(overrides.get("simulation_frame"))
        renderer = self._override(overrides.get("renderer"), "renderer")
        camera = self._override(overrides.get("camera"), "camera")
        near_clip = overrides.get("camera_near_clip")
        region = copy.deepcopy(self.region)
        for key in ("image_start", "image_end"):
            if overrides.get(key) is not None:
                region[key] = list(overrides[key])
        return {
            "renderer": renderer,
            "camera": camera,
            "view": copy.deepcopy(overrides.get("camera_view") or self.view),
            "near_clip": self.near_clip if near_clip is None else near_clip,
            "region": region,
        }

    def _override(self, data: dict[str, Any] | None, what: str) -> dict[str, Any]:
        current = self.renderer_type if what == "renderer" else self.camera_type
        values = self.renderers if what == "renderer" else self.projections
        if not data:
            return copy.deepcopy(values[current]) | {"name": current}
        name = data.get("name") or current
        defaults = _renderer_defaults() if what == "renderer" else _projection_defaults()
        if name not in defaults or f"set-{what}-{name}" not in self.entrypoints:
            raise JsonRpcError(INTERNAL_ERROR, f"Unknown type name {name}")
        params = data.get("params") or {}
        if validate(params, self.entrypoints[f"set-{what}-{name}"].params or {}):
            raise JsonRpcError(INVALID_PARAMS, "Invalid engine JSON schema")
        return defaults[name] | params | {"name": name}

    def current_frame(self) -> dict[str, Any]:
        """:meth:`frame_settings` without overrides (what render-image draws)."""
        return self.frame_settings()

    # ---- images -------------------------------------------------------------------------
    def check_image_format(self, image_format: str) -> None:
        """Refuse an image format as the real encoder does (-32603); png and jpg, any case."""
        if image_format.lower() not in IMAGE_FORMATS:
            raise JsonRpcError(INTERNAL_ERROR, f"Format not supported: '{image_format}'")

    def frame_scene(self, width: int, height: int, frame: dict[str, Any] | None = None) -> Scene:
        """What a frame of ``width`` x ``height`` shows, as a plain :class:`~._render.Scene`.

        ``frame`` is :meth:`frame_settings` (default: the current settings). The scene is a
        copy: it can be drawn in another thread while the state changes.
        """
        return scene_from_state(self, width, height, frame or self.current_frame())

    def encode_scene(self, scene: Scene, image_format: str, quality: int) -> bytes:
        """Draw ``scene`` and encode it (thread-safe: reads only ``scene`` and the settings).

        Unknown formats are the real encoder's -32603.
        """
        self.check_image_format(image_format)
        return encode_frame(scene, image_format, quality, self.png_compression)

    @staticmethod
    def encode_scene_gbuffers(scene: Scene, channels: list[str]) -> bytes:
        """Draw ``scene`` and return the EXR bytes of its g-buffers (thread-safe)."""
        try:
            return encode_gbuffers(scene, channels)
        except ExrError as error:
            raise JsonRpcError(INTERNAL_ERROR, f"Error encoding EXR image: {error}") from None

    def encode_image(
        self,
        width: int,
        height: int,
        image_format: str,
        quality: int,
        frame: dict[str, Any] | None = None,
    ) -> bytes:
        """Draw and encode the image of ``frame`` (see :meth:`frame_settings`; default: the
        current settings).

        Unknown formats are the real encoder's -32603.
        """
        self.check_image_format(image_format)
        scene = self.frame_scene(width, height, frame)
        return self.encode_scene(scene, image_format, quality)

    def gbuffers(
        self, width: int, height: int, channels: list[str], frame: dict[str, Any] | None = None
    ) -> bytes:
        """Return the EXR bytes of an export-gbuffers of ``frame`` (see :meth:`frame_settings`)."""
        return self.encode_scene_gbuffers(self.frame_scene(width, height, frame), channels)

    # ---- synchronous handlers -----------------------------------------------------------
    def handle(self, method: str, params: Any, binary: bytes) -> HandlerResult:
        """Execute a synchronous entrypoint; return ``(result, binary or None)``."""
        handler = self._handlers.get(method)
        if handler is not None:
            return handler(params, binary)
        entry = self.entrypoints[method]
        return _sample(entry.result), None

    def _register(self) -> None:
        h = self._handlers
        simple: dict[str, Callable[[Any, bytes], Any]] = {
            "get-version": lambda p, b: {
                "major": self.brayns_version[0],
                "minor": self.brayns_version[1],
                "patch": self.brayns_version[2],
                "revision": self.brayns_version[3],
            },
            "registry": lambda p, b: list(self.entrypoints),
            "schema": self._schema,
            "get-application-parameters": lambda p, b: {
                "plugins": list(self.plugins),
                "viewport": list(self.viewport),
            },
            "set-application-parameters": self._set_application,
            "get-loaders": lambda p, b: copy.deepcopy(self.loaders),
            "get-camera-type": lambda p, b: self.camera_type,
            "get-camera-view": lambda p, b: copy.deepcopy(self.view),
            "set-camera-view": self._set_view,
            "get-camera-near-clip": lambda p, b: {"distance": self.near_clip},
            "set-camera-near-clip": self._set_near_clip,
            "get-camera-region": lambda p, b: copy.deepcopy(self.region),
            "set-camera-region": self._set_region,
            "get-renderer-type": lambda p, b: self.renderer_type,
            "set-framebuffer-static": self._set_framebuffer_static,
            "set-framebuffer-progressive": self._set_framebuffer_progressive,
            "get-scene": self._get_scene,
            "get-model": lambda p, b: self.get_model(p["id"]).to_json(),
            "update-model": self._update_model,
            "remove-model": self._remove_model,
            "clear-models": self._clear_models,
            "clear-lights": self._clear(lambda m: m.model_type == "light"),
            "clear-clipping-geometries": self._clear(
                lambda m: m.model_type in ("clip_geometry", "clipping_geometry")
            ),
            "clear-clip-planes": self._clear(
                lambda m: m.model_type in ("clip_geometry", "clipping_geometry")
            ),
            "clear-renderables": self._clear(
                lambda m: m.model_type in ("geometry", "mesh", "Volume")
            ),
            "instantiate-model": self._instantiate,
            "get-material-type": lambda p, b: self._material_of(p["id"])[0],
            "get-color-methods": lambda p, b: list(self.get_model(p["id"]).color_methods),
            "get-color-values": self._get_color_values,
            "color-model": self._color_model,
            "get-color-ramp": self._get_color_ramp,
            "set-color-ramp": self._set_color_ramp,
            "get-simulation-parameters": lambda p, b: dict(self.simulation),
            "set-simulation-parameters": self._set_simulation,
            "enable-simulation": self._enable_simulation,
            "inspect": self._inspect,
            "add-clip-plane": self._add_clip_plane,
            "get-circuit-ids": lambda p, b: self._model_then(p["model_id"], []),
            "set-circuit-thickness": lambda p, b: self._model_then(p["model_id"], None),
            "get-available-atlas-usecases": lambda p, b: self._model_then(p["model_id"], []),
        }
        for method, function in simple.items():
            h[method] = self._plain(function)
        h["render-image"] = self._render_image
        for kind in ("spheres", "boxes", "capsules", "planes", "bounded-planes"):
            h[f"add-{kind}"] = self._plain(self._geometry_adder(kind))
            h[f"add-clipping-{kind}"] = self._plain(self._clipping_adder(kind))
        for kind in ("ambient", "directional", "quad", "sphere"):
            h[f"add-light-{kind}"] = self._plain(self._light_adder(kind))
        for kind in ("perspective", "orthographic", "cylindric"):
            h[f"get-camera-{kind}"] = self._plain(self._projection_getter(kind))
            h[f"set-camera-{kind}"] = self._plain(self._projection_setter(kind))
        for kind in ("interactive", "production"):
            h[f"get-renderer-{kind}"] = self._plain(self._renderer_getter(kind))
            h[f"set-renderer-{kind}"] = self._plain(self._renderer_setter(kind))
        for method, entry in self.entrypoints.items():
            if method.startswith("get-material-") and method != "get-material-type":
                h[method] = self._plain(self._material_getter(method[13:], entry))
            elif method.startswith("set-material-"):
                h[method] = self._plain(self._material_setter(method[13:]))
        h["visualize-atlas-usecase"] = self._plain(self._visualize_atlas)

    @staticmethod
    def _plain(function: Callable[[Any, bytes], Any]) -> Callable[[Any, bytes], HandlerResult]:
        return lambda params, binary: (function(params, binary), None)

    def _model_then(self, model_id: int, result: Any) -> Any:
        self.get_model(model_id)
        return result

    def _schema(self, params: Any, binary: bytes) -> Any:
        endpoint = params["endpoint"]
        entry = self.entrypoints.get(endpoint)
        if entry is None:
            raise JsonRpcError(METHOD_NOT_FOUND, f"Method '{endpoint}' not found")
        result: dict[str, Any] = {
            "async": entry.is_async,
            "deprecated": entry.deprecated,
            "description": entry.description,
            "plugin": entry.plugin,
            "title": endpoint,
        }
        titles = SCHEMA_TITLES.get(endpoint, {})
        for key, schema in (("params", entry.params), ("returns", entry.result)):
            if schema is None:
                continue
            schema = copy.deepcopy(schema)
            if key in titles:
                schema["title"] = titles[key]
            result[key] = schema
        return result

    def _set_application(self, params: Any, binary: bytes) -> Any:
        viewport = params.get("viewport")
        if viewport is not None:
            self.viewport = list(viewport)
            self.version += 1
        return None

    def _set_view(self, params: Any, binary: bytes) -> Any:
        position, target, up = (list(params[key]) for key in ("position", "target", "up"))
        direction = _sub(target, position)
        if not any(direction):
            raise JsonRpcError(INTERNAL_ERROR, "View position cannot be equal to view target")
        if not any(_cross(direction, up)):
            raise JsonRpcError(INTERNAL_ERROR, "View direction and up cannot be aligned")
        self.view = {"position": position, "target": target, "up": up}
        self.version += 1
        return None

    def _set_near_clip(self, params: Any, binary: bytes) -> Any:
        distance = params.get("distance")
        if distance is not None:
            if distance < 0:
                raise JsonRpcError(INTERNAL_ERROR, "Near clipping distance cannot be < 0")
            self.near_clip = distance
        self.version += 1
        return None

    def _set_region(self, params: Any, binary: bytes) -> Any:
        start, end = list(params["image_start"]), list(params["image_end"])
        values = start + end
        if any(not 0 <= v <= 1 for v in values) or start[0] == end[0] or start[1] == end[1]:
            raise JsonRpcError(INTERNAL_ERROR, "Image region should be normalized and not empty")
        self.region = {"image_end": end, "image_start": start}
        self.version += 1
        return None

    def _projection_getter(self, kind: str) -> Callable[[Any, bytes], Any]:
        def get(params: Any, binary: bytes) -> Any:
            if self.camera_type != kind:
                raise JsonRpcError(
                    INVALID_REQUEST, f"Invalid camera type (should be '{self.camera_type}')"
                )
            return dict(self.projections[kind])

        return get

    def _projection_setter(self, kind: str) -> Callable[[Any, bytes], Any]:
        def set_(params: Any, binary: bytes) -> Any:
            values = dict(self.projections[kind])
            values.update({k: v for k, v in params.items() if v is not None})
            if kind == "orthographic" and values["height"] <= 0:
                raise JsonRpcError(INTERNAL_ERROR, "Orthographic height must be greater than 0")
            if kind == "perspective" and values["fovy"] <= 0:
                raise JsonRpcError(INTERNAL_ERROR, "Perspective fovy must be greater than 0")
            self.projections[kind] = values
            self.camera_type = kind
            self.version += 1
            return None

        return set_

    def _renderer_getter(self, kind: str) -> Callable[[Any, bytes], Any]:
        def get(params: Any, binary: bytes) -> Any:
            if self.renderer_type != kind:
                raise JsonRpcError(
                    INVALID_REQUEST, f"Invalid renderer type (should be '{self.renderer_type}')"
                )
            return copy.deepcopy(self.renderers[kind])

        return get

    def _renderer_setter(self, kind: str) -> Callable[[Any, bytes], Any]:
        def set_(params: Any, binary: bytes) -> Any:
            values = copy.deepcopy(self.renderers[kind])
            values.update({k: v for k, v in params.items() if v is not None})
            self.renderers[kind] = values
            self.renderer_type = kind
            self.version += 1
            return None

        return set_

    def _set_framebuffer_static(self, params: Any, binary: bytes) -> Any:
        self.framebuffer = {"type": "static"}
        self.version += 1
        return None

    def _set_framebuffer_progressive(self, params: Any, binary: bytes) -> Any:
        scale = _get(params, "scale", self.entrypoints["set-framebuffer-progressive"].params)
        self.framebuffer = {"type": "progressive", "scale": scale}
        self.version += 1
        return None

    def _get_scene(self, params: Any, binary: bytes) -> Any:
        low, high = self.scene_bounds()
        return {
            "bounds": {"max": high, "min": low},
            "models": [model.to_json() for model in self.models.values()],
        }

    def _update_model(self, params: Any, binary: bytes) -> Any:
        model = self.get_model(params["model_id"])
        data = params.get("model") or {}
        if data.get("is_visible") is not None:
            model.is_visible = data["is_visible"]
        transform = data.get("transform")
        if transform is not None:
            full = _identity()
            full.update({k: list(v) for k, v in transform.items() if v is not None})
            model.transform = full
        self.version += 1
        return model.to_json()

    def _remove_model(self, params: Any, binary: bytes) -> Any:
        # Every id is looked up first, then removed one by one (scene/remove-model).
        for model_id in params["ids"]:
            self._instance(model_id)
        for model_id in params["ids"]:
            self._instance(model_id)
            self.remove_models(partial(_has_id, model_id))
        return None

    def _clear_models(self, params: Any, binary: bytes) -> Any:
        # Ids restart at 0 after clear-models (scene/clear-models-on-mixed).
        self.remove_models(lambda m: True)
        self._released.clear()
        self._next_id = 0
        return None

    def _clear(self, drop: Callable[[Model], bool]) -> Callable[[Any, bytes], Any]:
        def clear(params: Any, binary: bytes) -> Any:
            self.remove_models(drop)
            return None

        return clear

    def _instantiate(self, params: Any, binary: bytes) -> Any:
        source = self._instance(params["model_id"])
        if not params["transforms"]:
            raise JsonRpcError(CODE_ZERO, "transforms list cannot be empty")
        results = []
        for transform in params["transforms"]:
            full = _identity()
            full.update({k: list(v) for k, v in transform.items() if v is not None})
            model = source.copy_as(self._new_id(), full)
            self.models[model.model_id] = model
            self.version += 1
            results.append(model.to_json())
        return results

    def _material_of(self, model_id: int) -> tuple[str, dict[str, Any]]:
        material = self.get_model(model_id).material
        if material is None:
            raise JsonRpcError(CODE_ZERO, "The model does not have material")
        return material

    def _get_color_values(self, params: Any, binary: bytes) -> Any:
        model = self.get_model(params["id"])
        method = params["method"]
        if method not in model.color_methods:
            raise JsonRpcError(INVALID_PARAMS, f"Invalid coloring method '{method}'")
        if method == "solid":
            return ["color"]
        count = len(model.primitives)
        if model.kind == "mesh":
            count = len(model.primitives[0]["triangles"])
        return [f"0-{count - 1}"]

    def _color_model(self, params: Any, binary: bytes) -> Any:
        values = params["values"]
        if not values:
            raise JsonRpcError(INVALID_PARAMS, "Color values cannot be empty")
        model = self.get_model(params["id"])
        method = params["method"]
        if not model.color_methods:
            return None  # lights and clipping geometries accept and ignore it (coloring/light)
        if method not in model.color_methods:
            raise JsonRpcError(INVALID_PARAMS, f"Invalid coloring method '{method}'")
        count = len(model.colors)
        if method == "solid" and "color" in values:
            model.colors = [list(values["color"]) for _ in range(count)]
        elif method in ("primitive", "triangle"):
            for key, color in values.items():
                for index in _index_range(key):
                    if 0 <= index < count:
                        model.colors[index] = list(color)
        self.version += 1
        return None

    def _get_color_ramp(self, params: Any, binary: bytes) -> Any:
        model = self.get_model(params["id"])
        if model.color_ramp is None:
            raise JsonRpcError(CODE_ZERO, "The requested model does not have a color ramp")
        return copy.deepcopy(model.color_ramp)

    def _set_color_ramp(self, params: Any, binary: bytes) -> Any:
        model = self.get_model(params["id"])
        if model.color_ramp is None:
            raise JsonRpcError(INVALID_REQUEST, "The requested model does not have a color ramp")
        ramp = params["color_ramp"]
        low, high = ramp.get("range") or model.color_ramp["range"]
        if not low < high:
            raise JsonRpcError(
                INTERNAL_ERROR, "Color ramp range must define a non zero positive interval"
            )
        model.color_ramp = {
            "colors": copy.deepcopy(ramp.get("colors", model.color_ramp["colors"])),
            "range": [low, high],
        }
        self.version += 1
        return None

    def _set_simulation(self, params: Any, binary: bytes) -> Any:
        current = params.get("current")
        if current is not None:
            self.check_simulation_frame(current)
            self.simulation["current"] = current
        self.version += 1
        return None

    def _enable_simulation(self, params: Any, binary: bytes) -> Any:
        self.get_model(params["model_id"])
        # No core model carries a simulation.
        raise JsonRpcError(CODE_ZERO, "The model does not have simulation")

    def _geometry_adder(self, kind: str) -> Callable[[Any, bytes], Any]:
        def bounds_of(geometry: dict[str, Any]) -> Bounds:
            if kind == "spheres":
                c, r = geometry["center"], abs(geometry["radius"])
                return [x - r for x in c], [x + r for x in c]
            if kind == "boxes":
                a, b = geometry["min"], geometry["max"]
                return [min(p) for p in zip(a, b, strict=True)], [
                    max(p) for p in zip(a, b, strict=True)
                ]
            if kind == "capsules":
                p0, p1 = geometry["p0"], geometry["p1"]
                r0, r1 = abs(geometry["r0"]), abs(geometry["r1"])
                return (
                    [min(a - r0, b - r1) for a, b in zip(p0, p1, strict=True)],
                    [max(a + r0, b + r1) for a, b in zip(p0, p1, strict=True)],
                )
            if kind == "bounded-planes":
                a, b = geometry["bounds"]["min"], geometry["bounds"]["max"]
                return [min(p) for p in zip(a, b, strict=True)], [
                    max(p) for p in zip(a, b, strict=True)
                ]
            return EMPTY_BOUNDS  # infinite planes

        def add(params: Any, binary: bytes) -> Any:
            if not params:
                raise JsonRpcError(INTERNAL_ERROR, "OSPData: shared buffer is NULL")
            geometries = [copy.deepcopy(item["geometry"]) for item in params]
            low, high = _union([bounds_of(g) for g in geometries])
            model = self.add_model(
                "geometry",
                kind,
                ([_float32(v) for v in low], [_float32(v) for v in high]),
                primitives=geometries,
                colors=[list(item["color"]) for item in params],
                material=("phong", dict(MATERIAL_DEFAULTS["phong"])),
                color_methods=("primitive", "solid"),
            )
            return model.to_json()

        return add

    def _clipping_adder(self, kind: str) -> Callable[[Any, bytes], Any]:
        def add(params: Any, binary: bytes) -> Any:
            primitives = params["primitives"]
            if not primitives:
                raise JsonRpcError(INTERNAL_ERROR, "OSPData: shared buffer is NULL")
            model = self.add_model(
                "clip_geometry",
                f"clip-{kind}",
                EMPTY_BOUNDS,
                primitives=copy.deepcopy(primitives),
                invert_normals=bool(params.get("invert_normals")),
            )
            return model.to_json()

        return add

    def _add_clip_plane(self, params: Any, binary: bytes) -> Any:
        primitive = {"coefficients": list(params["coefficients"])}
        model = self.add_model(
            "clipping_geometry", "clip-plane", EMPTY_BOUNDS, primitives=[primitive]
        )
        return model.to_json()

    def _light_adder(self, kind: str) -> Callable[[Any, bytes], Any]:
        schema = self.entrypoints[f"add-light-{kind}"].params or {}

        def add(params: Any, binary: bytes) -> Any:
            light = {key: _get(params, key, schema) for key in schema.get("properties", {})}
            bounds: Bounds = EMPTY_BOUNDS
            if kind == "quad":
                p, e1, e2 = light["position"], light["edge1"], light["edge2"]
                corners = [p, [a + b for a, b in zip(p, e1, strict=True)]]
                corners += [[a + b for a, b in zip(c, e2, strict=True)] for c in corners]
                bounds = (
                    [min(c[i] for c in corners) for i in range(3)],
                    [max(c[i] for c in corners) for i in range(3)],
                )
            model = self.add_model("light", f"light-{kind}", bounds, primitives=[light])
            return model.to_json()

        return add

    def _material_getter(self, kind: str, entry: Entrypoint) -> Callable[[Any, bytes], Any]:
        def get(params: Any, binary: bytes) -> Any:
            current, values = self._material_of(params["id"])
            if current != kind:
                raise JsonRpcError(
                    INVALID_REQUEST, f"Invalid material type (should be '{current}')"
                )
            result = _sample(entry.result) or {}
            result.update(MATERIAL_DEFAULTS.get(kind, {}))
            result.update(values)
            return result

        return get

    def _material_setter(self, kind: str) -> Callable[[Any, bytes], Any]:
        def set_(params: Any, binary: bytes) -> Any:
            model = self.get_model(params["model_id"])
            if model.material is None:
                raise JsonRpcError(CODE_ZERO, "The model does not have material")
            values = copy.deepcopy(MATERIAL_DEFAULTS.get(kind, {}))
            values.update({k: v for k, v in params["material"].items() if v is not None})
            model.material = (kind, values)
            self.version += 1
            return None

        return set_

    def _visualize_atlas(self, params: Any, binary: bytes) -> Any:
        source = self.get_model(params["model_id"])
        model = self.add_model("atlas_usecase", "mesh", source.local_bounds)
        return model.to_json()

    # ---- inspect ------------------------------------------------------------------------
    def camera_ray(self, x: float, y: float) -> tuple[Vec3, Vec3]:
        """Origin and unit direction of the ray through normalized screen (x, y), y up."""
        position = [float(v) for v in self.view["position"]]
        forward = _normalize(_sub(self.view["target"], position))
        right = _normalize(_cross(forward, self.view["up"]))
        up = _cross(right, forward)
        width, height = self.viewport
        aspect = width / height if height else 1.0
        sx, sy = (x - 0.5), (y - 0.5)
        if self.camera_type == "orthographic":
            half = self.projections["orthographic"]["height"]
            origin = [
                p + sx * half * aspect * r + sy * half * u
                for p, r, u in zip(position, right, up, strict=True)
            ]
            return origin, forward
        scale = 2 * math.tan(math.radians(self.projections["perspective"]["fovy"]) / 2)
        direction = [
            f + sx * scale * aspect * r + sy * scale * u
            for f, r, u in zip(forward, right, up, strict=True)
        ]
        return position, _normalize(direction)

    def _inspect(self, params: Any, binary: bytes) -> Any:
        x, y = params["position"]
        miss = {"hit": False, "metadata": None, "model_id": 0, "position": [0, 0, 0]}
        if not (0 <= x <= 1 and 0 <= y <= 1):
            return miss
        origin, direction = self.camera_ray(x, y)
        best: tuple[float, int] | None = None
        for model in self.models.values():
            if not model.is_visible or model.model_type not in ("geometry", "mesh"):
                continue
            t = _hit_model(model, origin, direction)
            if t is not None and (best is None or t < best[0]):
                best = (t, model.model_id)
        if best is None:
            return miss
        t, model_id = best
        point = [_float32(o + t * d) for o, d in zip(origin, direction, strict=True)]
        return {"hit": True, "metadata": {}, "model_id": model_id, "position": point}

    # ---- render-image -------------------------------------------------------------------
    def _render_image(self, params: Any, binary: bytes) -> HandlerResult:
        schema = self.entrypoints["render-image"].params
        send = _get(params, "send", schema)
        force = _get(params, "force", schema)
        if not send and force:
            raise JsonRpcError(INVALID_PARAMS, "Cannot force sending if send is disabled")
        image_format = _get(params, "format", schema)
        if image_format.lower() not in IMAGE_FORMATS:
            raise JsonRpcError(INTERNAL_ERROR, f"Format not supported: '{image_format}'")
        new_frame = self.render_image_renders(params)
        if new_frame:
            self.check_frame_size(self.viewport, "Viewport")
            if self._accumulated_version != self.version:
                self._accumulated_version = self.version
                self.accumulation = 0
            frames = self.max_accumulation if _get(params, "accumulate", schema) else 1
            self.accumulation = min(self.accumulation + frames, self.max_accumulation)
        result = {
            "accumulation": max(self.accumulation, 1),
            "max_accumulation": self.max_accumulation,
        }
        if send and (new_frame or force):
            width, height = self.viewport
            if self.framebuffer["type"] == "progressive" and self.accumulation <= 1:
                scale = self.framebuffer["scale"]
                width, height = max(width // scale, 1), max(height // scale, 1)
            data = self.encode_image(
                width, height, image_format, _get(params, "jpeg_quality", schema)
            )
            return result, data
        return result, None

    @property
    def max_accumulation(self) -> int:
        """Frames render-image accumulates: the current renderer's samples per pixel."""
        return int(self.renderers[self.renderer_type].get("samples_per_pixel", 1))

    def render_image_renders(self, params: Any) -> bool:
        """Whether a render-image with these params renders a new frame (and so takes time)."""
        schema = self.entrypoints["render-image"].params
        if not _get(params, "render", schema):
            return False
        return (
            self._accumulated_version != self.version or self.accumulation < self.max_accumulation
        )

    @staticmethod
    def check_frame_size(size: Sequence[int], what: str = "Frame size") -> None:
        """Refuse a frame a real braynsService would abort on (-32602).

        Under 64x64 the real server aborts; over :data:`MAX_FRAME_SIDE` pixels a side or
        :data:`MAX_FRAME_PIXELS` pixels is the fake's own bound (such a frame can exhaust a
        real server's memory, and the fake's).
        """
        width, height = size[0], size[1]
        if width < MIN_FRAME_SIDE or height < MIN_FRAME_SIDE:
            raise JsonRpcError(
                INVALID_PARAMS,
                f"{what} {width}x{height} is below the minimum 64x64 (a real "
                "braynsService 3.10.1 crashes on it; the fake server refuses it)",
            )
        if max(width, height) > MAX_FRAME_SIDE or width * height > MAX_FRAME_PIXELS:
            raise JsonRpcError(
                INVALID_PARAMS,
                f"{what} {width}x{height} is above the fake server's maximum of "
                f"{MAX_FRAME_SIDE} pixels a side and {MAX_FRAME_PIXELS} pixels (a frame this "
                "large can exhaust a real braynsService's memory and crash it; the fake server "
                "refuses it)",
            )


def _has_id(model_id: int, model: Model) -> bool:
    return model.model_id == model_id


def _index_range(key: str) -> range:
    """A color-model key: an index "3" or a range "0-5"."""
    first, _, last = key.partition("-")
    try:
        low = int(first)
        high = int(last) if last else low
    except ValueError:
        return range(0)
    return range(low, high + 1)


def _hit_model(model: Model, origin: Vec3, direction: Vec3) -> float | None:
    """Distance along the ray to the nearest primitive of a model, None on a miss."""
    transform = model.transform
    if transform["rotation"] != [0, 0, 0, 1] or transform["scale"] != [1, 1, 1]:
        # Exact enough for the fake: test the transformed bounding box only.
        low, high = model.bounds()
        return None if _is_empty((low, high)) else _ray_box(origin, direction, low, high)
    local = _sub(origin, transform["translation"])
    best: float | None = None
    for primitive in model.primitives:
        t: float | None = None
        if model.kind == "spheres":
            t = _ray_sphere(local, direction, primitive["center"], abs(primitive["radius"]))
        elif model.kind == "boxes":
            t = _ray_box(local, direction, primitive["min"], primitive["max"])
        elif model.kind == "capsules":
            r = max(abs(primitive["r0"]), abs(primitive["r1"]))
            t0 = _ray_sphere(local, direction, primitive["p0"], abs(primitive["r0"]))
            t1 = _ray_sphere(local, direction, primitive["p1"], abs(primitive["r1"]))
            hits = [v for v in (t0, t1) if v is not None]
            low = [min(a, b) - r for a, b in zip(primitive["p0"], primitive["p1"], strict=True)]
            high = [max(a, b) + r for a, b in zip(primitive["p0"], primitive["p1"], strict=True)]
            box = _ray_box(local, direction, low, high)
            t = min(hits) if hits else box
        elif model.kind in ("planes", "bounded-planes"):
            a, b, c, d = primitive["coefficients"]
            denominator = _dot([a, b, c], direction)
            if abs(denominator) > 1e-12:
                t = -(_dot([a, b, c], local) + d) / denominator
                t = t if t > 1e-9 else None
            if t is not None and model.kind == "bounded-planes":
                point = [o + t * v for o, v in zip(local, direction, strict=True)]
                box = primitive["bounds"]
                if any(
                    not min(lo, hi) - 1e-6 <= p <= max(lo, hi) + 1e-6
                    for p, lo, hi in zip(point, box["min"], box["max"], strict=True)
                ):
                    t = None
        elif model.kind == "mesh":
            vertices = primitive["vertices"]
            for i, j, k in primitive["triangles"]:
                hit = _ray_triangle(local, direction, vertices[i], vertices[j], vertices[k])
                if hit is not None and (t is None or hit < t):
                    t = hit
        if t is not None and (best is None or t < best):
            best = t
    return best
