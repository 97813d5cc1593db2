"""The global engine state of the fake server and its synchronous entrypoint handlers.

All state is global and shared by every client (protocol.md 3.6). The initial values are those
a real braynsService 3.10.1 reported at the start of the recorded transcript
(``tests/data/transcript.jsonl``): production renderer, perspective camera looking at
``[1.5, 0, 0]`` from ``[1.5, 0, 8]``, near clip ``1e-06`` and so on.

Handlers receive params that already passed schema validation (missing optional members keep their
schema ``default`` through :func:`_get`), return ``(result, binary)`` and raise
:class:`~._errors.JsonRpcError` with the real server's codes and messages where known. The four
asynchronous entrypoints (add-model, upload-model, snapshot, export-gbuffers) are driven by the
server (``_server.py``), which uses the helpers here for their effects.
"""

from __future__ import annotations

import copy
import heapq
import json
import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ._errors import INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, JsonRpcError
from ._render import Scene, encode_frame, encode_gbuffers, scene_from_state
from ._titles import LOADER_TITLES, SCHEMA_TITLES

__all__ = ["PLUGINS", "BraynsState", "Entrypoint", "load_entrypoints", "load_loaders"]

# Command-line plugin name -> the `plugin` value of its entrypoints/loaders in the data files.
PLUGINS: dict[str, str] = {
    "braynsCircuitExplorer": "Circuit Explorer",
    "braynsAtlasExplorer": "Atlas Explorer",
    "braynsCylindricCamera": "Cylindric Camera",
    "braynsDTI": "DTI",
    "braynsMoleculeExplorer": "Molecule Explorer",
}

FLT_MAX = 3.4028235e38
MIN_FRAME_SIZE = 64
# The largest frame the fake draws: 16384 pixels a side and 64 megapixels (a 256 MiB RGBA
# framebuffer, gigabytes of float buffers on a real server, which aborts when it runs out).
MAX_FRAME_SIDE = 16384
MAX_FRAME_PIXELS = 8192 * 8192
EMPTY_BOUNDS = ([FLT_MAX] * 3, [-FLT_MAX] * 3)

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
    """Return the core entrypoints plus those of the given command-line plugin names."""
    enabled = {"Core"} | {PLUGINS[name] for name in plugins}
    return {
        row["method"]: Entrypoint(
            row["method"],
            row["plugin"],
            row["description"],
            row["async"],
            row["deprecated"],
            row["params"],
            row["result"],
        )
        for row in _data("entrypoints.json")
        if row["plugin"] in enabled
    }


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
        value = schema.get("properties", {}).get(key, {}).get("default")
    return value


def _identity() -> dict[str, list[float]]:
    return {"rotation": [0, 0, 0, 1], "scale": [1, 1, 1], "translation": [0, 0, 0]}


def _rotate(q: Sequence[float], v: Sequence[float]) -> Vec3:
    x, y, z, w = q
    norm = math.sqrt(x * x + y * y + z * z + w * w) or 1.0
    x, y, z, w = x / norm, y / norm, z / norm, w / norm
    # v' = v + 2w(u x v) + 2 u x (u x v)
    ux, uy, uz = x, y, z
    cx = uy * v[2] - uz * v[1]
    cy = uz * v[0] - ux * v[2]
    cz = ux * v[1] - uy * v[0]
    return [
        v[0] + 2 * (w * cx + uy * cz - uz * cy),
        v[1] + 2 * (w * cy + uz * cx - ux * cz),
        v[2] + 2 * (w * cz + ux * cy - uy * cx),
    ]


def _transform_bounds(bounds: Bounds, transform: dict[str, Any]) -> Bounds:
    low, high = bounds
    if any(a > b for a, b in zip(low, high, strict=True)):
        return EMPTY_BOUNDS
    corners = [
        [(low, high)[i][0], (low, high)[j][1], (low, high)[k][2]]
        for i in (0, 1)
        for j in (0, 1)
        for k in (0, 1)
    ]
    scale = transform["scale"]
    moved = []
    for corner in corners:
        scaled = [c * s for c, s in zip(corner, scale, strict=True)]
        rotated = _rotate(transform["rotation"], scaled)
        moved.append([r + t for r, t in zip(rotated, transform["translation"], strict=True)])
    return (
        [_clean(min(p[a] for p in moved)) for a in range(3)],
        [_clean(max(p[a] for p in moved)) for a in range(3)],
    )


def _clean(value: float) -> float:
    # Brayns computes in single precision; rounding away the double noise of the rotation keeps
    # results such as 1.5 exact.
    return float(struct.unpack("f", struct.pack("f", value))[0]) if abs(value) < FLT_MAX else value


def check_frame_size(width: int, height: int, what: str = "Image size") -> None:
    """Raise the -32602 the fake answers for frames a real braynsService would abort on."""
    if width < MIN_FRAME_SIZE or height < MIN_FRAME_SIZE:
        raise JsonRpcError(
            INVALID_PARAMS,
            f"{what} {width}x{height} is below the minimum 64x64 (a real "
            "braynsService 3.10.1 crashes on it; the fake server refuses it)",
        )
    if max(width, height) > MAX_FRAME_SIDE or width * height > MAX_FRAME_PIXELS:
        raise JsonRpcError(
            INVALID_PARAMS,
            f"{what} {width}x{height} is above the fake server's maximum of {MAX_FRAME_SIDE} "
            f"pixels a side and {MAX_FRAME_PIXELS} pixels (a frame this large can exhaust a real "
            "braynsService's memory and crash it; the fake server refuses it)",
        )


def _copy_drawing(drawing: dict[str, Any]) -> dict[str, Any]:
    # Items and mesh bytes are never mutated: share them; colouring is per model.
    copied = dict(drawing)
    if "coloring" in copied:
        copied["coloring"] = list(copied["coloring"])
    return copied


def _union(boxes: Sequence[Bounds]) -> Bounds:
    low, high = [FLT_MAX] * 3, [-FLT_MAX] * 3
    for box_low, box_high in boxes:
        if any(a > b for a, b in zip(box_low, box_high, strict=True)):
            continue
        low = [min(a, b) for a, b in zip(low, box_low, strict=True)]
        high = [max(a, b) for a, b in zip(high, box_high, strict=True)]
    return low, high


@dataclass
class Model:
    """A model instance of the scene."""

    model_id: int
    model_type: str
    local_bounds: Bounds
    info: dict[str, Any] = field(default_factory=dict)
    is_visible: bool = True
    transform: dict[str, Any] = field(default_factory=_identity)
    material: tuple[str, dict[str, Any]] = ("phong", {"opacity": 1})
    color_methods: tuple[str, ...] = ("solid",)
    primitives: int = 1
    # What the renderer draws (see _render.scene_from_state): role, kind, items, colours...
    drawing: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        low, high = _transform_bounds(self.local_bounds, self.transform)
        return {
            "bounds": {"max": high, "min": low},
            "info": copy.deepcopy(self.info),
            "is_visible": self.is_visible,
            "model_id": self.model_id,
            "model_type": self.model_type,
            "transform": copy.deepcopy(self.transform),
        }


class MeshError(Exception):
    """A mesh file the fake mesh loader cannot read (a -32603 for the client)."""


def parse_mesh(data: bytes, extension: str) -> tuple[Bounds, int]:
    """Return (bounds, triangle count) of an OBJ, PLY, STL or OFF mesh."""
    extension = extension.lower().lstrip(".")
    if extension == "obj":
        points, triangles = _parse_obj(data)
    elif extension == "off":
        points, triangles = _parse_off(data)
    elif extension == "stl":
        points, triangles = _parse_stl(data)
    elif extension == "ply":
        points, triangles = _parse_ply(data)
    else:
        raise MeshError(f"Unsupported mesh type '{extension}'")
    if not points:
        raise MeshError("Mesh has no vertices")
    low = [_clean(min(p[a] for p in points)) for a in range(3)]
    high = [_clean(max(p[a] for p in points)) for a in range(3)]
    return (low, high), triangles


def _text(data: bytes) -> list[list[str]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MeshError(f"Invalid text mesh: {error}") from None
    return [line.split() for line in text.splitlines() if line.strip()]


def _floats(words: Sequence[str]) -> Vec3:
    try:
        return [float(w) for w in words[:3]]
    except ValueError:
        raise MeshError(f"Invalid vertex {' '.join(words)!r}") from None


def _parse_obj(data: bytes) -> tuple[list[Vec3], int]:
    points, triangles = [], 0
    for words in _text(data):
        if words[0] == "v" and len(words) >= 4:
            points.append(_floats(words[1:4]))
        elif words[0] == "f" and len(words) >= 4:
            triangles += len(words) - 3
    return points, triangles


def _parse_off(data: bytes) -> tuple[list[Vec3], int]:
    lines = [w for w in _text(data) if not w[0].startswith("#")]
    if not lines or not lines[0][0].endswith("OFF"):
        raise MeshError("Invalid OFF header")
    header = lines[0][1:] or lines[1]
    start = 1 if lines[0][1:] else 2
    try:
        vertex_count, face_count = int(header[0]), int(header[1])
    except (ValueError, IndexError):
        raise MeshError("Invalid OFF counts") from None
    points = [_floats(w) for w in lines[start : start + vertex_count]]
    faces = lines[start + vertex_count : start + vertex_count + face_count]
    triangles = sum(max(int(w[0]) - 2, 0) for w in faces if w and w[0].isdigit())
    return points, triangles


def _parse_stl(data: bytes) -> tuple[list[Vec3], int]:
    if len(data) >= 84:
        (count,) = struct.unpack_from("<I", data, 80)
        if 84 + 50 * count == len(data):
            points = []
            for i in range(count):
                values = struct.unpack_from("<12f", data, 84 + 50 * i)
                points += [list(values[3:6]), list(values[6:9]), list(values[9:12])]
            return points, count
    lines = _text(data)
    points = [_floats(w[1:4]) for w in lines if w[0] == "vertex"]
    if not lines or lines[0][0] != "solid":
        raise MeshError("Invalid STL file")
    return points, len(points) // 3


def _parse_ply(data: bytes) -> tuple[list[Vec3], int]:
    end = data.find(b"end_header")
    if not data.startswith(b"ply") or end < 0:
        raise MeshError("Invalid PLY header")
    body_start = data.index(b"\n", end) + 1
    header = [line.split() for line in data[:end].decode("ascii", "replace").splitlines()]
    fmt = next((w[1] for w in header if w and w[0] == "format"), "ascii")
    elements: list[tuple[str, int, list[list[str]]]] = []
    for words in header:
        if words and words[0] == "element":
            elements.append((words[1], int(words[2]), []))
        elif words and words[0] == "property" and elements:
            elements[-1][2].append(words[1:])
    sizes = {
        "char": "b",
        "uchar": "B",
        "int8": "b",
        "uint8": "B",
        "short": "h",
        "ushort": "H",
        "int16": "h",
        "uint16": "H",
        "int": "i",
        "uint": "I",
        "int32": "i",
        "uint32": "I",
        "float": "f",
        "float32": "f",
        "double": "d",
        "float64": "d",
    }
    points: list[Vec3] = []
    triangles = 0
    if fmt == "ascii":
        rows = [line.split() for line in data[body_start:].decode("ascii", "replace").splitlines()]
        rows = [r for r in rows if r]
        index = 0
        for name, count, properties in elements:
            for row in rows[index : index + count]:
                if name == "vertex":
                    names = [p[-1] for p in properties]
                    try:
                        points.append([float(row[names.index(a)]) for a in "xyz"])
                    except (ValueError, IndexError):
                        raise MeshError("Invalid PLY vertex") from None
                elif name == "face" and row:
                    triangles += max(int(row[0]) - 2, 0)
            index += count
        return points, triangles
    order = "<" if "little" in fmt else ">"
    offset = body_start
    try:
        for name, count, properties in elements:
            for _ in range(count):
                values: dict[str, float] = {}
                for prop in properties:
                    if prop[0] == "list":
                        (length,) = struct.unpack_from(order + sizes[prop[1]], data, offset)
                        offset += struct.calcsize(sizes[prop[1]])
                        offset += length * struct.calcsize(sizes[prop[2]])
                        if name == "face":
                            triangles += max(length - 2, 0)
                    else:
                        code = sizes[prop[0]]
                        (values[prop[1]],) = struct.unpack_from(order + code, data, offset)
                        offset += struct.calcsize(code)
                if name == "vertex":
                    points.append([values["x"], values["y"], values["z"]])
    except (struct.error, KeyError):
        raise MeshError("Invalid binary PLY body") from None
    return points, triangles


def _sample(schema: dict[str, Any] | None) -> Any:
    """Build a plausible value for a result schema (used for the less common entrypoints)."""
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
            "max_ray_bounces": 2,
            "samples_per_pixel": 1,
        },
    }


class BraynsState:
    """Scene, camera, renderer, framebuffer, application and simulation state of one server.

    ``version`` counts state changes; render-image renders a "new frame" only when it moved.
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
        self.view: dict[str, Vec3] = {
            "position": [1.5, 0, 8],
            "target": [1.5, 0, 0],
            "up": [0, 1, 0],
        }
        self.near_clip: float = 1e-06
        self.region = {"image_end": [1, 0], "image_start": [0, 1]}
        self.renderer_type = "production"
        self.renderers = _renderer_defaults()
        self.framebuffer: dict[str, Any] = {"type": "static"}
        self.simulation = {"current": 0, "dt": 0, "end_frame": 0, "start_frame": 0, "unit": "ms"}
        self.version = 0
        self._rendered_version = -1
        self._handlers: dict[str, Callable[[Any, bytes], HandlerResult]] = {}
        self._register()

    # ---- models -------------------------------------------------------------------------
    def _new_id(self) -> int:
        # Released IDs are reused, smallest first (the capture: after remove-model 0, the next
        # model got ID 0 again).
        if self._released:
            return heapq.heappop(self._released)
        self._next_id += 1
        return self._next_id - 1

    def add_model(self, model_type: str, bounds: Bounds, **kwargs: Any) -> Model:
        """Create, store and return a model with the next free ID."""
        model = Model(self._new_id(), model_type, bounds, **kwargs)
        self.models[model.model_id] = model
        self.version += 1
        return model

    def get_model(self, model_id: int) -> Model:
        """Return a model or raise the real server's -32602."""
        model = self.models.get(model_id)
        if model is None:
            raise JsonRpcError(INVALID_PARAMS, f"No model found with ID {model_id}")
        return model

    def remove_models(self, keep: Callable[[Model], bool]) -> None:
        """Remove every model for which ``keep`` is false and release their IDs."""
        for model_id in [i for i, m in self.models.items() if not keep(m)]:
            del self.models[model_id]
            heapq.heappush(self._released, model_id)
        self.version += 1

    def scene_bounds(self) -> Bounds:
        """Union of the visible models' world bounds (empty bounds are ignored)."""
        boxes = []
        for model in self.models.values():
            data = model.to_json()["bounds"]
            boxes.append((data["min"], data["max"]))
        return _union(boxes)

    def load_mesh(self, data: bytes, extension: str, load_info: dict[str, Any]) -> list[Any]:
        """Add a mesh model from file bytes and return the ModelInstance list the loaders reply."""
        try:
            bounds, triangles = parse_mesh(data, extension)
        except MeshError as error:
            raise JsonRpcError(INTERNAL_ERROR, str(error)) from None
        info = {
            "load_info": load_info,
            # Values are strings, and the mesh loader unrolls triangles (Appendix B).
            "metadata": {"faces": str(triangles), "meshes": "1", "vertices": str(3 * triangles)},
        }
        drawing = {"role": "geometry", "kind": "mesh", "data": data, "extension": extension}
        model = self.add_model("mesh", bounds, info=info, primitives=triangles, drawing=drawing)
        return [model.to_json()]

    def find_loader(self, name: str, extension: str) -> dict[str, Any]:
        """Return the named loader if it supports the extension, else raise a -32603."""
        for loader in self.loaders:
            if loader["name"] == name and extension.lower().lstrip(".") in [
                e.lower().lstrip(".") for e in loader["extensions"]
            ]:
                return loader
        raise JsonRpcError(
            INTERNAL_ERROR,
            f"No loader found for type '{extension}' and loader name '{name}'",
        )

    # ---- images -------------------------------------------------------------------------
    def background(self) -> tuple[int, int, int, int]:
        """The current renderer's background colour as 8-bit RGBA."""
        color = self.renderers[self.renderer_type].get("background_color", [0, 0, 0, 1])
        r, g, b, a = (max(0, min(255, round(c * 255))) for c in color)
        return r, g, b, a

    def frame_scene(self, width: int, height: int, params: Any = None) -> Scene:
        """What a frame of ``width`` x ``height`` shows (snapshot params may override views)."""
        return scene_from_state(self, width, height, params if isinstance(params, dict) else {})

    def encode_scene(self, scene: Scene, image_format: str, quality: int) -> bytes:
        """Draw and encode ``scene``; unknown formats are a -32603 like the real encoder's.

        Thread-safe: it reads only ``scene`` (a copy) and the PNG compression level.
        """
        try:
            return encode_frame(scene, image_format, quality, self.png_compression)
        except ValueError as error:
            raise JsonRpcError(INTERNAL_ERROR, str(error)) from None

    def encode_image(
        self, width: int, height: int, image_format: str, quality: int, params: Any = None
    ) -> bytes:
        """Draw the current scene and encode it (see :meth:`encode_scene`)."""
        return self.encode_scene(self.frame_scene(width, height, params), image_format, quality)

    @staticmethod
    def encode_gbuffers(scene: Scene, channels: list[str]) -> bytes:
        """Draw ``scene`` and return the EXR bytes of its g-buffers (thread-safe)."""
        try:
            return encode_gbuffers(scene, channels)
        except ValueError as error:
            raise JsonRpcError(INTERNAL_ERROR, f"Error encoding EXR image: {error}") from None

    def gbuffers(self, width: int, height: int, channels: list[str], params: Any = None) -> bytes:
        """Return the EXR bytes of an export-gbuffers download."""
        return self.encode_gbuffers(self.frame_scene(width, height, params), channels)

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
        simple = {
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
            "clear-models": self._clear(lambda m: False),
            "clear-lights": self._clear(lambda m: m.model_type != "light"),
            "clear-clipping-geometries": self._clear(
                lambda m: m.model_type not in ("clipping_geometry", "clip_plane")
            ),
            "clear-clip-planes": self._clear(lambda m: m.model_type != "clip_plane"),
            "clear-renderables": self._clear(
                lambda m: m.model_type in ("light", "clipping_geometry", "clip_plane")
            ),
            "instantiate-model": self._instantiate,
            "get-material-type": lambda p, b: self.get_model(p["id"]).material[0],
            "get-color-methods": lambda p, b: list(self.get_model(p["id"]).color_methods),
            "get-color-values": self._get_color_values,
            "color-model": self._color_model,
            "get-color-ramp": self._color_ramp,
            "set-color-ramp": self._color_ramp,
            "get-simulation-parameters": lambda p, b: dict(self.simulation),
            "set-simulation-parameters": self._set_simulation,
            "enable-simulation": self._enable_simulation,
            "inspect": lambda p, b: {
                "hit": False,
                "metadata": None,
                "model_id": 0,
                "position": [0, 0, 0],
            },
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
        for kind in ("spheres", "boxes", "capsules", "planes", "bounded-planes"):
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
        self.view = {key: list(params[key]) for key in ("position", "target", "up")}
        self.version += 1
        return None

    def _set_near_clip(self, params: Any, binary: bytes) -> Any:
        distance = params.get("distance")
        if distance is not None:
            self.near_clip = distance
        self.version += 1
        return None

    def _set_region(self, params: Any, binary: bytes) -> Any:
        self.region = {
            "image_end": list(params["image_end"]),
            "image_start": list(params["image_start"]),
        }
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
            values = _projection_defaults()[kind]
            values.update({k: v for k, v in params.items() if v is not None})
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
            values = _renderer_defaults()[kind]
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
            "models": [self.models[i].to_json() for i in sorted(self.models)],
        }

    def _update_model(self, params: Any, binary: bytes) -> Any:
        model = self.get_model(params["model_id"])
        data = params.get("model") or {}
        if data.get("is_visible") is not None:
            model.is_visible = data["is_visible"]
        transform = data.get("transform")
        if transform:
            for key in ("rotation", "scale", "translation"):
                if transform.get(key) is not None:
                    model.transform[key] = list(transform[key])
        self.version += 1
        return model.to_json()

    def _remove_model(self, params: Any, binary: bytes) -> Any:
        ids = params["ids"]
        for model_id in ids:
            self.get_model(model_id)
        wanted = set(ids)
        self.remove_models(lambda m: m.model_id not in wanted)
        return None

    def _clear(self, keep: Callable[[Model], bool]) -> Callable[[Any, bytes], Any]:
        def clear(params: Any, binary: bytes) -> Any:
            self.remove_models(keep)
            return None

        return clear

    def _instantiate(self, params: Any, binary: bytes) -> Any:
        source = self.get_model(params["model_id"])
        results = []
        for transform in params["transforms"]:
            full = _identity()
            full.update({k: list(v) for k, v in transform.items() if v is not None})
            model = self.add_model(
                source.model_type,
                source.local_bounds,
                info=copy.deepcopy(source.info),
                transform=full,
                material=source.material,
                color_methods=source.color_methods,
                primitives=source.primitives,
                drawing=_copy_drawing(source.drawing),
            )
            results.append(model.to_json())
        return results

    def _get_color_values(self, params: Any, binary: bytes) -> Any:
        model = self.get_model(params["id"])
        method = params["method"]
        if method not in model.color_methods:
            raise JsonRpcError(INVALID_PARAMS, f"Invalid coloring method '{method}'")
        if method == "primitive":
            return [str(i) for i in range(model.primitives)]
        return []

    def _color_model(self, params: Any, binary: bytes) -> Any:
        model = self.get_model(params["id"])
        method = params["method"]
        if method not in model.color_methods:
            raise JsonRpcError(INVALID_PARAMS, f"Invalid coloring method '{method}'")
        model.drawing.setdefault("coloring", []).append((method, dict(params["values"])))
        self.version += 1
        return None

    def _color_ramp(self, params: Any, binary: bytes) -> Any:
        self.get_model(params["id"])
        # Only volumes and simulation-enabled circuits have a ramp; the fake loads neither.
        raise JsonRpcError(INVALID_REQUEST, "The requested model does not have a color ramp")

    def _set_simulation(self, params: Any, binary: bytes) -> Any:
        current = params.get("current")
        if current is not None:
            self.simulation["current"] = min(
                max(current, self.simulation["start_frame"]), self.simulation["end_frame"]
            )
        self.version += 1
        return None

    def _enable_simulation(self, params: Any, binary: bytes) -> Any:
        self.get_model(params["model_id"])
        self.version += 1
        return None

    def _geometry_adder(self, kind: str) -> Callable[[Any, bytes], Any]:
        def bounds_of(geometry: dict[str, Any]) -> Bounds:
            if kind == "spheres":
                c, r = geometry["center"], geometry["radius"]
                return [x - r for x in c], [x + r for x in c]
            if kind == "boxes":
                return list(geometry["min"]), list(geometry["max"])
            if kind == "capsules":
                p0, p1, r0, r1 = geometry["p0"], geometry["p1"], geometry["r0"], geometry["r1"]
                return (
                    [min(a - r0, b - r1) for a, b in zip(p0, p1, strict=True)],
                    [max(a + r0, b + r1) for a, b in zip(p0, p1, strict=True)],
                )
            if kind == "bounded-planes":
                return list(geometry["bounds"]["min"]), list(geometry["bounds"]["max"])
            return EMPTY_BOUNDS  # infinite planes

        def add(params: Any, binary: bytes) -> Any:
            boxes = [bounds_of(item["geometry"]) for item in params]
            low, high = _union(boxes)
            methods = ("primitive", "solid")
            drawing = {
                "role": "geometry",
                "kind": kind,
                "items": [item["geometry"] for item in params],
                "colors": [item["color"] for item in params],
            }
            model = self.add_model(
                "geometry",
                (low, high),
                color_methods=methods,
                primitives=len(params),
                drawing=drawing,
            )
            return model.to_json()

        return add

    def _clipping_adder(self, kind: str) -> Callable[[Any, bytes], Any]:
        def add(params: Any, binary: bytes) -> Any:
            drawing = {
                "role": "clipper",
                "kind": kind,
                "items": list(params["primitives"]),
                "invert": bool(params.get("invert_normals")),
            }
            model = self.add_model(
                "clipping_geometry",
                EMPTY_BOUNDS,
                primitives=len(params["primitives"]),
                drawing=drawing,
            )
            return model.to_json()

        return add

    def _add_clip_plane(self, params: Any, binary: bytes) -> Any:
        drawing = {"role": "clipper", "kind": "planes", "items": [dict(params)]}
        return self.add_model("clip_plane", EMPTY_BOUNDS, drawing=drawing).to_json()

    def _light_adder(self, kind: str) -> Callable[[Any, bytes], Any]:
        schema = self.entrypoints[f"add-light-{kind}"].params

        def add(params: Any, binary: bytes) -> Any:
            drawing: dict[str, Any] = {"role": "light", "kind": kind}
            for key in schema.get("properties", {}) if schema else ():
                value = _get(params, key, schema)
                if value is not None:
                    drawing[key] = value
            return self.add_model("light", EMPTY_BOUNDS, drawing=drawing).to_json()

        return add

    def _material_getter(self, kind: str, entry: Entrypoint) -> Callable[[Any, bytes], Any]:
        def get(params: Any, binary: bytes) -> Any:
            model = self.get_model(params["id"])
            current, values = model.material
            if current != kind:
                raise JsonRpcError(
                    INVALID_REQUEST, f"Invalid material type (should be '{current}')"
                )
            result = _sample(entry.result) or {}
            result.update(values)
            return result

        return get

    def _material_setter(self, kind: str) -> Callable[[Any, bytes], Any]:
        def set_(params: Any, binary: bytes) -> Any:
            model = self.get_model(params["model_id"])
            values = {"opacity": 1} if kind == "phong" else {}
            values.update({k: v for k, v in params["material"].items() if v is not None})
            model.material = (kind, values)
            self.version += 1
            return None

        return set_

    def _visualize_atlas(self, params: Any, binary: bytes) -> Any:
        source = self.get_model(params["model_id"])
        model = self.add_model("atlas_usecase", source.local_bounds)
        return model.to_json()

    def _render_image(self, params: Any, binary: bytes) -> HandlerResult:
        schema = self.entrypoints["render-image"].params
        send = _get(params, "send", schema)
        force = _get(params, "force", schema)
        if not send and force:
            raise JsonRpcError(INVALID_PARAMS, "Cannot force sending if send is disabled")
        new_frame = bool(_get(params, "render", schema)) and self._rendered_version != self.version
        if new_frame or (send and force):
            check_frame_size(self.viewport[0], self.viewport[1], "Viewport")
        if new_frame:
            self._rendered_version = self.version
        result = {"accumulation": 1, "max_accumulation": 1}
        if send and (new_frame or force):
            width, height = self.viewport
            data = self.encode_image(
                width, height, _get(params, "format", schema), _get(params, "jpeg_quality", schema)
            )
            return result, data
        return result, None

    def render_image_renders(self, params: Any) -> bool:
        """Whether a render-image with these params renders a new frame (and so takes time)."""
        schema = self.entrypoints["render-image"].params
        return bool(_get(params, "render", schema)) and self._rendered_version != self.version
