"""The typed API (``brayns_trio.api``): generated code up to date, every entrypoint end to end
against the fake server, JSON conversion, and client-side params validation.
"""

from __future__ import annotations

import inspect
import struct
import typing
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pytest
import trio
import trio.testing

import brayns_trio
from brayns_trio import Instance, JsonRpcError, Settings, TaskCancelledError, api
from brayns_trio._methods import load_entrypoints
from brayns_trio.testing import FakeBrayns, FakeConnector

from .fake_helpers import RawClient
from .scripts import load_script
from .wire import SentMessages

PLUGINS = ("braynsAtlasExplorer", "braynsCircuitExplorer", "braynsCylindricCamera")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EXR_MAGIC = b"\x76\x2f\x31\x01"
FLT_MAX = 3.4028235e38  # as Brayns prints the float's maximum
INVALID_PARAMS = -32602
INVALID_REQUEST = -32600
# A tetrahedron: 4 vertices, 4 triangles, bounds [0, 0, 0] to [1, 2, 3].
OBJ = b"v 0 0 0\nv 1 0 0\nv 0 2 0\nv 0 0 3\nf 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n"


def load_generator() -> ModuleType:
    return load_script("generate_api")


# -- (a) and (b): the generated module --------------------------------------------------------


def test_regenerating_changes_nothing() -> None:
    generator = load_generator()
    text = generator.generate(*generator.load_inputs())
    assert isinstance(text, str)
    checked_in = Path(generator.OUTPUT_PATH).read_text("utf-8")
    assert text == checked_in, "run: python scripts/generate_api.py"
    # The package's own data (what this test imported) gives the same module.
    from brayns_trio.testing._titles import SCHEMA_TITLES

    assert generator.generate(list(load_entrypoints()), SCHEMA_TITLES) == checked_in


def test_every_entrypoint_has_a_typed_function() -> None:
    reference = {entry["method"]: entry for entry in load_entrypoints()}
    assert len(reference) == 90
    assert set(api.ENTRYPOINTS) == set(reference)
    for method, info in api.ENTRYPOINTS.items():
        entry = reference[method]
        function = getattr(api, method.replace("-", "_"))
        assert info.method == method
        assert info.function is function
        assert inspect.iscoroutinefunction(function)
        assert function.__doc__
        assert entry["description"].split()[0] in function.__doc__
        hints = typing.get_type_hints(function)  # every annotation resolves
        assert hints["instance"] is Instance
        assert ("params" in hints) == (entry["params"] is not None)
        assert (info.params is None) == (entry["params"] is None)
        assert (info.result is None) == (entry["result"] is None)
        assert info.binary_params == ("binary" in hints) == (method == "upload-model")
        assert info.binary_result == (method in ("snapshot", "export-gbuffers", "render-image"))
        if info.binary_result:
            assert typing.get_origin(hints["return"]) is api.BinaryResult
        elif info.result is None:
            assert hints["return"] is type(None)
        else:
            assert hints["return"] == info.result


def test_every_class_is_frozen_keyword_only_and_resolves() -> None:
    classes = [value for value in vars(api).values() if attrs.has(value)]
    assert len(classes) > 50
    # Imported, not generated: brayns_trio.Version is built positionally, Version(3, 10, 1).
    hand_written = {getattr(api, name) for name in load_generator().HAND_WRITTEN}
    assert hand_written == {brayns_trio.Version}
    for cls in classes:
        typing.get_type_hints(cls)
        for field in attrs.fields(cls):
            assert field.kw_only or cls in hand_written, f"{cls.__name__}.{field.name}"
        if cls is not api.BinaryResult and cls is not api.EntrypointInfo:
            assert cls.__setattr__ is not object.__setattr__  # frozen


# -- conversion ---------------------------------------------------------------------------------


def test_results_ignore_unknown_keys_and_name_required_missing_ones() -> None:
    view = api.from_json(
        {"position": [1, 2, 3], "target": [0, 0, 0], "up": [0, 1, 0], "new_key": 1}, api.View
    )
    assert view == api.View(position=[1.0, 2.0, 3.0], target=[0.0, 0.0, 0.0], up=[0.0, 1.0, 0.0])
    with pytest.raises(api.ResultError) as info:
        api.from_json({"position": [1, 2, 3], "up": [0, 1, 0]}, api.View, "get-camera-view")
    assert info.value.method == "get-camera-view"
    assert info.value.errors == ["required field missing @ $.target"]
    assert "get-camera-view returned an unexpected result" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_params_leave_out_none_and_use_json_keys() -> None:
    assert api.to_json(api.RenderImageParams(send=False)) == {"send": False}
    assert api.to_json(api.SnapshotParams()) == {}
    assert api.to_json(api.CancelParams(id=None)) == {"id": None}  # required: sent as null
    schema = api.from_json(
        {"async": True, "deprecated": False, "description": "", "plugin": "Core", "title": "x"},
        api.SchemaResult,
    )
    assert schema.async_ is True
    assert api.to_json(schema)["async"] is True
    # Read-only properties do not exist in what is sent.
    assert "dt" not in attrs.fields_dict(api.SetSimulationParametersParams)
    assert "dt" in attrs.fields_dict(api.SimulationParameters)


# -- (c) every entrypoint against the fake server -----------------------------------------------


@attrs.define
class Context:
    instance: Instance
    server: FakeBrayns
    tmp_path: Path


Scenario = Callable[[Context], Awaitable[None]]
SCENARIOS: dict[str, Scenario] = {}


def covers(*methods: str) -> Callable[[Scenario], Scenario]:
    """Register a scenario as the test of these methods (it must call each of them)."""

    def register(scenario: Scenario) -> Scenario:
        for method in methods:
            assert method not in SCENARIOS, method
            SCENARIOS[method] = scenario
        return scenario

    return register


def red(geometry: Any) -> dict[str, Any]:
    return {"color": [1.0, 0.0, 0.0, 1.0], "geometry": geometry}


async def add_sphere(ctx: Context) -> api.ModelInstance:
    """A sphere at [1, 2, 3] of radius 1: bounds [0, 1, 2] to [2, 3, 4]."""
    item = api.AddSpheresGeometryWithColor(
        color=[1, 0, 0, 1], geometry=api.Sphere(center=[1, 2, 3], radius=1)
    )
    return await api.add_spheres(ctx.instance, [item])


async def model_ids(ctx: Context) -> list[int]:
    return [model.model_id for model in (await api.get_scene(ctx.instance)).models]


def assert_geometry(model: api.ModelInstance, low: list[float], high: list[float]) -> None:
    assert isinstance(model, api.ModelInstance)
    assert model.model_type == "geometry"
    assert model.bounds == api.Bounds(min=low, max=high)
    assert model.is_visible is True
    assert model.transform == api.Transform(
        rotation=[0, 0, 0, 1], scale=[1, 1, 1], translation=[0, 0, 0]
    )


@covers("add-spheres", "get-model")
async def scenario_spheres_and_get_model(ctx: Context) -> None:
    model = await add_sphere(ctx)
    assert_geometry(model, [0, 1, 2], [2, 3, 4])
    assert model.info == api.ModelInfo()
    again = await api.get_model(ctx.instance, api.GetModelMessage(id=model.model_id))
    assert again == model
    with pytest.raises(JsonRpcError) as info:
        await api.get_model(ctx.instance, api.GetModelMessage(id=model.model_id + 1))
    assert info.value.code == INVALID_PARAMS


@covers("add-boxes")
async def scenario_boxes(ctx: Context) -> None:
    box = api.AddBoxesGeometryWithColor(
        color=[0, 1, 0, 1], geometry=api.Box(min=[0, 0, 0], max=[1, 2, 3])
    )
    assert_geometry(await api.add_boxes(ctx.instance, [box]), [0, 0, 0], [1, 2, 3])


@covers("add-capsules")
async def scenario_capsules(ctx: Context) -> None:
    capsule = api.Capsule(p0=[0, 0, 0], p1=[0, 0, 2], r0=1, r1=0.5)
    item = api.AddCapsulesGeometryWithColor(color=[0, 0, 1, 1], geometry=capsule)
    assert_geometry(await api.add_capsules(ctx.instance, [item]), [-1, -1, -1], [1, 1, 2.5])


@covers("add-planes")
async def scenario_planes(ctx: Context) -> None:
    item = api.AddPlanesGeometryWithColor(
        color=[1, 1, 1, 1], geometry=api.Plane(coefficients=[0, 1, 0, 0])
    )
    # Infinite planes have empty bounds (min above max), as on the real server.
    model = await api.add_planes(ctx.instance, [item])
    assert_geometry(model, [FLT_MAX] * 3, [-FLT_MAX] * 3)


@covers("add-bounded-planes")
async def scenario_bounded_planes(ctx: Context) -> None:
    plane = api.BoundedPlane(
        coefficients=[0, 0, 1, 0], bounds=api.Box(min=[-1, -1, 0], max=[1, 1, 0])
    )
    item = api.AddBoundedPlanesGeometryWithColor(color=[1, 1, 1, 1], geometry=plane)
    assert_geometry(await api.add_bounded_planes(ctx.instance, [item]), [-1, -1, 0], [1, 1, 0])


@covers("add-clip-plane")
async def scenario_clip_plane(ctx: Context) -> None:
    model = await api.add_clip_plane(ctx.instance, api.Plane(coefficients=[1, 0, 0, 0]))
    # The deprecated add-clip-plane makes a "clipping_geometry" (recorded on a real server).
    assert model.model_type == "clipping_geometry"
    assert model.bounds.min == [FLT_MAX] * 3


@covers(
    "add-clipping-bounded-planes",
    "add-clipping-boxes",
    "add-clipping-capsules",
    "add-clipping-planes",
    "add-clipping-spheres",
)
async def scenario_clipping_geometries(ctx: Context) -> None:
    instance = ctx.instance
    box = api.Box(min=[0, 0, 0], max=[1, 1, 1])
    models = [
        await api.add_clipping_bounded_planes(
            instance,
            api.AddClippingBoundedPlanesParams(
                primitives=[api.BoundedPlane(coefficients=[0, 0, 1, 0], bounds=box)]
            ),
        ),
        await api.add_clipping_boxes(
            instance, api.AddClippingBoxesParams(primitives=[box, box], invert_normals=True)
        ),
        await api.add_clipping_capsules(
            instance,
            api.AddClippingCapsulesParams(
                primitives=[api.Capsule(p0=[0, 0, 0], p1=[1, 1, 1], r0=1, r1=1)]
            ),
        ),
        await api.add_clipping_planes(
            instance, api.AddClippingPlanesParams(primitives=[api.Plane(coefficients=[1, 0, 0, 0])])
        ),
        await api.add_clipping_spheres(
            instance,
            api.AddClippingSpheresParams(primitives=[api.Sphere(center=[0, 0, 0], radius=2)]),
        ),
    ]
    # The add-clipping-* entrypoints make a "clip_geometry" (recorded on a real server).
    assert [model.model_type for model in models] == ["clip_geometry"] * 5
    assert [model.model_id for model in models] == [0, 1, 2, 3, 4]


@covers("add-light-ambient", "add-light-directional", "add-light-quad", "add-light-sphere")
async def scenario_lights(ctx: Context) -> None:
    instance = ctx.instance
    models = [
        await api.add_light_ambient(instance, api.AmbientLight(intensity=0.5)),
        await api.add_light_directional(
            instance, api.DirectionalLight(direction=[0, -1, 0], color=[1, 1, 1])
        ),
        await api.add_light_quad(
            instance,
            api.QuadLight(position=[0, 0, 0], edge1=[1, 0, 0], edge2=[0, 1, 0], intensity=2),
        ),
        await api.add_light_sphere(instance, api.SphereLight(position=[0, 5, 0], radius=0)),
    ]
    assert [model.model_type for model in models] == ["light"] * 4
    assert await model_ids(ctx) == [0, 1, 2, 3]


@covers("add-model")
async def scenario_add_model(ctx: Context) -> None:
    path = ctx.tmp_path / "tetrahedron.obj"
    path.write_bytes(OBJ)
    params = api.AddModelParams(path=str(path), loader_name="mesh", loader_properties={})
    (model,) = await api.add_model(ctx.instance, params)
    assert model.model_type == "mesh"
    assert model.bounds == api.Bounds(min=[0, 0, 0], max=[1, 2, 3])
    assert model.info.load_info == api.LoadInfo(
        load_parameters={}, loader_name="mesh", path=str(path), source="from_file"
    )
    assert model.info.metadata == {"faces": "4", "meshes": "1", "vertices": "12"}
    # The fake server runs only the mesh loader; a missing file is the real -32603.
    params = attrs.evolve(params, path=str(ctx.tmp_path / "missing.obj"))
    with pytest.raises(JsonRpcError) as info:
        await api.add_model(ctx.instance, params)
    assert info.value.code == -32603


@covers("upload-model")
async def scenario_upload_model(ctx: Context) -> None:
    params = api.UploadModelParams(type="obj", loader_name="mesh", loader_properties={})
    (model,) = await api.upload_model(ctx.instance, params, OBJ)
    assert model.bounds == api.Bounds(min=[0, 0, 0], max=[1, 2, 3])
    assert model.info.load_info is not None
    assert model.info.load_info.source == "from_blob"


@covers("cancel")
async def scenario_cancel(ctx: Context) -> None:
    async with ctx.instance.task("snapshot", api.to_json(api.SnapshotParams())) as task:
        async for _ in task.progress():
            break  # it runs: cancel it
        await api.cancel(ctx.instance, api.CancelParams(id=task.id))
        with pytest.raises(TaskCancelledError):
            await task.reply()
    # Nothing left to cancel: the real error.
    with pytest.raises(JsonRpcError) as info:
        await api.cancel(ctx.instance, api.CancelParams(id=task.id))
    assert info.value.code == INVALID_PARAMS
    assert info.value.message.startswith("No requests found with ID")


@covers(
    "clear-clip-planes",
    "clear-clipping-geometries",
    "clear-lights",
    "clear-models",
    "clear-renderables",
)
async def scenario_clears(ctx: Context) -> None:
    instance = ctx.instance

    async def populate() -> None:
        await api.clear_models(instance)
        await add_sphere(ctx)  # 0
        await api.add_light_ambient(instance, api.AmbientLight())  # 1
        await api.add_clip_plane(instance, api.Plane(coefficients=[1, 0, 0, 0]))  # 2
        params = api.AddClippingSpheresParams(primitives=[api.Sphere(center=[0, 0, 0], radius=1)])
        await api.add_clipping_spheres(instance, params)  # 3
        assert await model_ids(ctx) == [0, 1, 2, 3]

    # As recorded on a real server: both clip clears remove both kinds of clipping geometry,
    # clear-renderables removes the geometries only, and clear-models restarts the ids at 0.
    await populate()
    await api.clear_clip_planes(instance)
    assert await model_ids(ctx) == [0, 1]
    await populate()
    await api.clear_clipping_geometries(instance)
    assert await model_ids(ctx) == [0, 1]
    await populate()
    await api.clear_lights(instance)
    assert await model_ids(ctx) == [0, 2, 3]
    await populate()
    await api.clear_renderables(instance)
    assert await model_ids(ctx) == [1, 2, 3]
    await api.clear_models(instance)
    assert await model_ids(ctx) == []


@covers("get-color-methods", "get-color-values", "color-model")
async def scenario_coloring(ctx: Context) -> None:
    instance = ctx.instance
    model_id = (await add_sphere(ctx)).model_id
    methods = await api.get_color_methods(instance, api.GetModelMessage(id=model_id))
    assert methods == ["primitive", "solid"]
    values = await api.get_color_values(
        instance, api.ColorMethodValuesMessage(id=model_id, method="primitive")
    )
    assert values == ["0-0"]  # the range of primitive indices
    params = api.ColorModelMessage(id=model_id, method="primitive", values={"0": [0, 1, 0, 1]})
    await api.color_model(instance, params)
    with pytest.raises(JsonRpcError) as info:
        await api.color_model(instance, attrs.evolve(params, method="nope"))
    assert info.value.code == INVALID_PARAMS


@covers("get-color-ramp", "set-color-ramp")
async def scenario_color_ramp(ctx: Context) -> None:
    model_id = (await add_sphere(ctx)).model_id
    # Only volumes and simulated circuits have a color ramp: for a geometry model the getter
    # fails with code 0 and the setter with -32600, as on the real server.
    with pytest.raises(JsonRpcError) as info:
        await api.get_color_ramp(ctx.instance, api.GetModelMessage(id=model_id))
    assert info.value.code == 0
    ramp = api.ColorRamp(colors=[[0, 0, 0, 1], [1, 1, 1, 1]], range=[0, 1])
    with pytest.raises(JsonRpcError) as info:
        await api.set_color_ramp(
            ctx.instance, api.SetColorRampMessage(id=model_id, color_ramp=ramp)
        )
    assert info.value.code == INVALID_REQUEST


@covers("enable-simulation")
async def scenario_enable_simulation(ctx: Context) -> None:
    model_id = (await add_sphere(ctx)).model_id
    params = api.EnableSimulationMessage(model_id=model_id, enabled=True)
    # A geometry has no simulation: code 0, as on the real server.
    with pytest.raises(JsonRpcError) as info:
        await api.enable_simulation(ctx.instance, params)
    assert info.value.code == 0
    with pytest.raises(JsonRpcError) as info:
        await api.enable_simulation(ctx.instance, attrs.evolve(params, model_id=99))
    assert info.value.code == INVALID_PARAMS


@covers("get-simulation-parameters", "set-simulation-parameters")
async def scenario_simulation_parameters(ctx: Context) -> None:
    instance = ctx.instance
    initial = api.SimulationParameters(current=0, dt=0, end_frame=0, start_frame=0, unit="ms")
    assert await api.get_simulation_parameters(instance) == initial
    # No simulation is loaded (frames 0 to 0): a frame out of that range is refused.
    with pytest.raises(JsonRpcError) as info:
        await api.set_simulation_parameters(instance, api.SetSimulationParametersParams(current=5))
    assert (info.value.code, info.value.message) == (-32603, "Simulation frame out of range")
    assert await api.get_simulation_parameters(instance) == initial
    await api.set_simulation_parameters(instance, api.SetSimulationParametersParams(current=0))
    await api.set_simulation_parameters(instance)  # all optional: {}


@covers("export-gbuffers")
async def scenario_export_gbuffers(ctx: Context) -> None:
    params = api.GBuffersParams(channels=["color", "depth"], resolution=[64, 64])
    exported = await api.export_gbuffers(ctx.instance, params)
    assert isinstance(exported, api.BinaryResult)
    assert exported.result is None
    assert exported.binary.startswith(EXR_MAGIC)
    assert b"chlist" in exported.binary


@covers("snapshot")
async def scenario_snapshot(ctx: Context) -> None:
    settings = api.ImageSettings(size=[80, 64], format="png")
    shot = await api.snapshot(ctx.instance, api.SnapshotParams(image_settings=settings))
    assert isinstance(shot.result, api.SnapshotResult)
    assert shot.result.color_buffer == api.ColorBufferMessage(offset=0, size=len(shot.binary))
    assert shot.binary.startswith(PNG_MAGIC)
    assert struct.unpack(">II", shot.binary[16:24]) == (80, 64)
    default = await api.snapshot(ctx.instance)  # viewport size, PNG
    assert struct.unpack(">II", default.binary[16:24]) == (800, 600)


# -- frame sizes that abort a real server ------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: api.ImageSettings(format="png"), r"ImageSettings\.size is required: .* 0x0"),
        (lambda: api.ImageSettings(quality=50), r"ImageSettings\.size is required"),
        (lambda: api.ImageSettings(size=[64, 63]), r"ImageSettings\.size must be at least 64x64"),
        (lambda: api.ImageSettings(size=[0, 0]), r"at least 64x64, got \[0, 0\]"),
        (
            lambda: api.GBuffersParams(channels=["color"], resolution=[16, 8]),
            r"GBuffersParams\.resolution must be at least 64x64",
        ),
        (
            lambda: api.SetApplicationParametersParams(viewport=[37, 23]),
            r"SetApplicationParametersParams\.viewport must be at least 64x64",
        ),
    ],
)
def test_frame_sizes_that_abort_the_server_are_refused(
    make: Callable[[], object], message: str
) -> None:
    # A real braynsService 3.10.1 aborts on each (the corpus cases snapshot/size-below-64/*,
    # gbuffer/small-resolution, image/render-image-viewport), and takes image settings without a
    # size as 0x0.
    with pytest.raises(ValueError, match=message):
        make()


def test_frame_sizes_the_server_renders_are_accepted() -> None:
    assert api.ImageSettings(size=[64, 64]).size == [64, 64]
    assert api.GBuffersParams(channels=["color"]).resolution is None  # the viewport's
    assert api.SetApplicationParametersParams().viewport is None
    # Malformed sizes are left to the server's schema check, which answers an error.
    assert api.ImageSettings(size=[64, 64, 64]).size == [64, 64, 64]
    # attrs.evolve checks again.
    with pytest.raises(ValueError, match="at least 64x64"):
        attrs.evolve(api.ImageSettings(size=[64, 64]), size=[64, 1])


async def test_typed_snapshots_send_a_size_or_no_image_settings(
    brayns_connector: FakeConnector,
    brayns_settings: Settings,
    autojump_clock: trio.testing.MockClock,
) -> None:
    tap = SentMessages(brayns_connector)
    async with brayns_trio.open_instance(
        "fake:5000", connector=tap.connector, settings=brayns_settings
    ) as instance:
        await api.snapshot(instance)
        await api.snapshot(instance, api.SnapshotParams())
        settings = api.ImageSettings(size=[96, 64], format="jpg")
        await api.snapshot(instance, api.SnapshotParams(image_settings=settings))
        await api.export_gbuffers(instance, api.GBuffersParams(channels=["color"]))
    assert tap.params_of("snapshot") == [
        {},
        {},
        {"image_settings": {"format": "jpg", "size": [96, 64]}},
    ]
    assert tap.params_of("export-gbuffers") == [{"channels": ["color"]}]


@covers("render-image")
async def scenario_render_image(ctx: Context) -> None:
    instance = ctx.instance
    first = await api.render_image(instance, api.RenderImageParams(format="png"))
    assert first.result == api.RenderImageResult(accumulation=1, max_accumulation=1)
    assert first.binary.startswith(PNG_MAGIC)
    unchanged = await api.render_image(instance)  # nothing new to render: no image
    assert unchanged.binary == b""
    forced = await api.render_image(instance, api.RenderImageParams(force=True))
    assert forced.binary.startswith(b"\xff\xd8")  # JPEG, the default format


@covers("get-application-parameters", "set-application-parameters")
async def scenario_application_parameters(ctx: Context) -> None:
    instance = ctx.instance
    before = await api.get_application_parameters(instance)
    assert before == api.ApplicationParameters(plugins=list(PLUGINS), viewport=[800, 600])
    params = api.SetApplicationParametersParams(viewport=[640, 480])
    await api.set_application_parameters(instance, params)
    after = await api.get_application_parameters(instance)
    assert after == attrs.evolve(before, viewport=[640, 480])


@covers("get-camera-view", "set-camera-view")
async def scenario_camera_view(ctx: Context) -> None:
    instance = ctx.instance
    view = await api.get_camera_view(instance)
    assert view == api.View(position=[0, 0, 0], target=[0, 0, 1], up=[0, 1, 0])
    moved = attrs.evolve(view, position=[0.5, 1.0, 10.0])
    await api.set_camera_view(instance, moved)
    assert await api.get_camera_view(instance) == moved


@covers("get-camera-near-clip", "set-camera-near-clip")
async def scenario_near_clip(ctx: Context) -> None:
    instance = ctx.instance
    assert await api.get_camera_near_clip(instance) == api.CameraNearClipMessage(distance=1e-06)
    await api.set_camera_near_clip(instance, api.CameraNearClipMessage(distance=0.25))
    assert await api.get_camera_near_clip(instance) == api.CameraNearClipMessage(distance=0.25)


@covers("get-camera-region", "set-camera-region")
async def scenario_camera_region(ctx: Context) -> None:
    instance = ctx.instance
    region = api.CameraRegionMessage(image_start=[0.25, 0.75], image_end=[0.75, 0.25])
    await api.set_camera_region(instance, region)
    assert await api.get_camera_region(instance) == region


@covers("get-camera-type", "get-camera-perspective", "set-camera-perspective")
async def scenario_perspective(ctx: Context) -> None:
    instance = ctx.instance
    assert await api.get_camera_type(instance) == "perspective"
    default = api.Perspective(aperture_radius=0, focus_distance=1, fovy=45)
    assert await api.get_camera_perspective(instance) == default
    await api.set_camera_perspective(instance, api.Perspective(fovy=30))
    # Left-out fields are reset to their defaults, as on the real server.
    assert await api.get_camera_perspective(instance) == attrs.evolve(default, fovy=30)


@covers("get-camera-orthographic", "set-camera-orthographic")
async def scenario_orthographic(ctx: Context) -> None:
    instance = ctx.instance
    # Not the current camera: the real server's -32600.
    with pytest.raises(JsonRpcError) as info:
        await api.get_camera_orthographic(instance)
    assert info.value.code == INVALID_REQUEST
    await api.set_camera_orthographic(instance, api.Orthographic(height=3))
    assert await api.get_camera_type(instance) == "orthographic"
    assert await api.get_camera_orthographic(instance) == api.Orthographic(height=3)


@covers("get-camera-cylindric", "set-camera-cylindric")
async def scenario_cylindric(ctx: Context) -> None:
    instance = ctx.instance
    await api.set_camera_cylindric(instance, api.Cylindric(fovy=60))
    assert await api.get_camera_type(instance) == "cylindric"
    assert await api.get_camera_cylindric(instance) == api.Cylindric(fovy=60)


@covers("get-renderer-type", "get-renderer-production", "set-renderer-production")
async def scenario_production(ctx: Context) -> None:
    instance = ctx.instance
    # Not the current renderer (interactive is): the real server's -32600.
    with pytest.raises(JsonRpcError) as info:
        await api.get_renderer_production(instance)
    assert info.value.code == INVALID_REQUEST
    await api.set_renderer_production(instance, api.Production())
    assert await api.get_renderer_type(instance) == "production"
    default = api.Production(background_color=[0, 0, 0, 1], max_ray_bounces=3, samples_per_pixel=5)
    assert await api.get_renderer_production(instance) == default
    await api.set_renderer_production(instance, api.Production(samples_per_pixel=16))
    # Left-out fields keep their values.
    assert await api.get_renderer_production(instance) == attrs.evolve(
        default, samples_per_pixel=16
    )


@covers("get-renderer-interactive", "set-renderer-interactive")
async def scenario_interactive(ctx: Context) -> None:
    instance = ctx.instance
    assert await api.get_renderer_type(instance) == "interactive"  # a fresh server's renderer
    await api.set_renderer_interactive(
        instance, api.Interactive(ao_samples=4, enable_shadows=False)
    )
    assert await api.get_renderer_type(instance) == "interactive"
    assert await api.get_renderer_interactive(instance) == api.Interactive(
        ao_samples=4,
        background_color=[0.004, 0.016, 0.102, 0],
        enable_shadows=False,
        max_ray_bounces=3,
        samples_per_pixel=1,
    )


@covers("set-framebuffer-progressive", "set-framebuffer-static")
async def scenario_framebuffer(ctx: Context) -> None:
    # No entrypoint reads the framebuffer back: look at the fake server's state.
    params = api.ProgressiveFrameMessage(scale=8)
    await api.set_framebuffer_progressive(ctx.instance, params)
    assert ctx.server.state.framebuffer == {"type": "progressive", "scale": 8}
    await api.set_framebuffer_static(ctx.instance)
    assert ctx.server.state.framebuffer == {"type": "static"}


async def material_round_trip(
    ctx: Context,
    kind: str,
    setter: Callable[[Instance, Any], Awaitable[None]],
    getter: Callable[[Instance, api.GetModelMessage], Awaitable[Any]],
    params: Callable[..., Any],
    material: Any,
) -> Any:
    """Set a material on a new model, check its type, and return what the getter reads back."""
    model_id = (await add_sphere(ctx)).model_id
    await setter(ctx.instance, params(model_id=model_id, material=material))
    assert await api.get_material_type(ctx.instance, api.GetModelMessage(id=model_id)) == kind
    result = await getter(ctx.instance, api.GetModelMessage(id=model_id))
    assert type(result) is type(material)
    return result


@covers("get-material-type", "get-material-phong", "set-material-phong")
async def scenario_phong(ctx: Context) -> None:
    model_id = (await add_sphere(ctx)).model_id
    # Every model starts with an opaque phong material.
    assert await api.get_material_type(ctx.instance, api.GetModelMessage(id=model_id)) == "phong"
    phong = await api.get_material_phong(ctx.instance, api.GetModelMessage(id=model_id))
    assert phong == api.Phong(opacity=1)
    got = await material_round_trip(
        ctx,
        "phong",
        api.set_material_phong,
        api.get_material_phong,
        api.SetMaterialPhongParams,
        api.Phong(opacity=0.5),
    )
    assert got == api.Phong(opacity=0.5)


@covers("get-material-carpaint", "set-material-carpaint")
async def scenario_carpaint(ctx: Context) -> None:
    got = await material_round_trip(
        ctx,
        "carpaint",
        api.set_material_carpaint,
        api.get_material_carpaint,
        api.SetMaterialCarpaintParams,
        api.CarPaint(flake_density=0.25),
    )
    assert got == api.CarPaint(flake_density=0.25)
    # Not its material type: the real server's -32600.
    with pytest.raises(JsonRpcError) as info:
        await api.get_material_phong(ctx.instance, api.GetModelMessage(id=0))
    assert info.value.code == INVALID_REQUEST


@covers("get-material-emissive", "set-material-emissive")
async def scenario_emissive(ctx: Context) -> None:
    material = api.Emissive(color=[1, 0.5, 0], intensity=3)
    got = await material_round_trip(
        ctx,
        "emissive",
        api.set_material_emissive,
        api.get_material_emissive,
        api.SetMaterialEmissiveParams,
        material,
    )
    assert got == material


@covers("get-material-ghost", "set-material-ghost")
async def scenario_ghost(ctx: Context) -> None:
    got = await material_round_trip(
        ctx,
        "ghost",
        api.set_material_ghost,
        api.get_material_ghost,
        api.SetMaterialGhostParams,
        api.Ghost(),
    )
    assert got == api.Ghost()


@covers("get-material-glass", "set-material-glass")
async def scenario_glass(ctx: Context) -> None:
    got = await material_round_trip(
        ctx,
        "glass",
        api.set_material_glass,
        api.get_material_glass,
        api.SetMaterialGlassParams,
        api.Glass(index_of_refraction=1.33),
    )
    assert got == api.Glass(index_of_refraction=1.33)


@covers("get-material-matte", "set-material-matte")
async def scenario_matte(ctx: Context) -> None:
    got = await material_round_trip(
        ctx,
        "matte",
        api.set_material_matte,
        api.get_material_matte,
        api.SetMaterialMatteParams,
        api.Matte(opacity=0.75),
    )
    assert got == api.Matte(opacity=0.75)


@covers("get-material-metal", "set-material-metal")
async def scenario_metal(ctx: Context) -> None:
    got = await material_round_trip(
        ctx,
        "metal",
        api.set_material_metal,
        api.get_material_metal,
        api.SetMaterialMetalParams,
        api.Metal(roughness=0.5),
    )
    assert got == api.Metal(roughness=0.5)


@covers("get-material-plastic", "set-material-plastic")
async def scenario_plastic(ctx: Context) -> None:
    got = await material_round_trip(
        ctx,
        "plastic",
        api.set_material_plastic,
        api.get_material_plastic,
        api.SetMaterialPlasticParams,
        api.Plastic(opacity=0.125),
    )
    assert got == api.Plastic(opacity=0.125)


@covers("get-material-principled", "set-material-principled")
async def scenario_principled(ctx: Context) -> None:
    got = await material_round_trip(
        ctx,
        "principled",
        api.set_material_principled,
        api.get_material_principled,
        api.SetMaterialPrincipledParams,
        api.Principled(metallic=0.5, edge_color=[0.25, 0.5, 0.75]),
    )
    # Left-out properties come back with the server's values.
    assert got.metallic == 0.5
    assert got.edge_color == [0.25, 0.5, 0.75]
    assert got.ior is not None


@covers("get-loaders")
async def scenario_loaders(ctx: Context) -> None:
    loaders = await api.get_loaders(ctx.instance)
    assert all(isinstance(loader, api.Loader) for loader in loaders)
    mesh = next(loader for loader in loaders if loader.name == "mesh")
    assert mesh.plugin == "Core"
    assert "obj" in mesh.extensions
    assert mesh.input_parameters_schema["title"] == "EmptyLoaderParams"
    assert "NRRD loader" in [loader.name for loader in loaders]  # the Atlas Explorer's


@covers("get-scene", "remove-model")
async def scenario_scene(ctx: Context) -> None:
    instance = ctx.instance
    empty = await api.get_scene(instance)
    assert empty == api.Scene(bounds=api.Bounds(min=[FLT_MAX] * 3, max=[-FLT_MAX] * 3), models=[])
    sphere = await add_sphere(ctx)
    box = api.AddBoxesGeometryWithColor(
        color=[0, 1, 0, 1], geometry=api.Box(min=[-1, -1, -1], max=[0, 0, 0])
    )
    boxes = await api.add_boxes(instance, [box])
    scene = await api.get_scene(instance)
    assert scene.bounds == api.Bounds(min=[-1, -1, -1], max=[2, 3, 4])
    assert scene.models == [sphere, boxes]
    await api.remove_model(instance, api.RemoveModelMessage(ids=[sphere.model_id]))
    assert (await api.get_scene(instance)).models == [boxes]


@covers("update-model", "instantiate-model")
async def scenario_update_and_instantiate(ctx: Context) -> None:
    instance = ctx.instance
    model = await add_sphere(ctx)
    transform = api.Transform(translation=[10, 0, 0], rotation=[0, 0, 0, 1], scale=[1, 1, 1])
    update = api.UpdateModelModelInstance(is_visible=False, transform=transform)
    updated = await api.update_model(
        instance, api.UpdateModelMessage(model_id=model.model_id, model=update)
    )
    assert updated == attrs.evolve(
        model,
        is_visible=False,
        transform=transform,
        bounds=api.Bounds(min=[10, 1, 2], max=[12, 3, 4]),
    )
    assert await api.get_model(instance, api.GetModelMessage(id=model.model_id)) == updated
    copies = await api.instantiate_model(
        instance,
        api.InstantiateMessage(
            model_id=model.model_id, transforms=[api.Transform(translation=[0, 0, 5])]
        ),
    )
    assert [copy.model_id for copy in copies] == [1]
    assert copies[0].bounds == api.Bounds(min=[0, 1, 7], max=[2, 3, 9])
    assert copies[0].transform == api.Transform(
        rotation=[0, 0, 0, 1], scale=[1, 1, 1], translation=[0, 0, 5]
    )


@covers("get-version")
async def scenario_version(ctx: Context) -> None:
    version = await api.get_version(ctx.instance)
    assert version == api.VersionMessage(major=3, minor=10, patch=1, revision="747afcdfc")
    assert isinstance(version, brayns_trio.Version)
    assert version.revision == "747afcdfc"  # not compared by ==


@covers("inspect")
async def scenario_inspect(ctx: Context) -> None:
    await add_sphere(ctx)
    # The fake server renders nothing, so nothing is ever hit (a real server may hit the sphere).
    result = await api.inspect(ctx.instance, api.InspectMessage(position=[0.5, 0.5]))
    assert result == api.InspectResult(hit=False, metadata=None, model_id=0, position=[0, 0, 0])


@covers("registry")
async def scenario_registry(ctx: Context) -> None:
    assert sorted(await api.registry(ctx.instance)) == sorted(api.ENTRYPOINTS)


@covers("schema")
async def scenario_schema(ctx: Context) -> None:
    schema = await api.schema(ctx.instance, api.SchemaParams(endpoint="snapshot"))
    assert schema.async_ is True
    assert schema.deprecated is False
    assert schema.plugin == "Core"
    assert schema.title == "snapshot"
    assert schema.params is not None
    assert schema.params["title"] == "SnapshotParams"
    no_params = await api.schema(ctx.instance, api.SchemaParams(endpoint="get-version"))
    assert no_params.params is None
    assert no_params.async_ is False
    with pytest.raises(JsonRpcError) as info:
        await api.schema(ctx.instance, api.SchemaParams(endpoint="nope"))
    assert info.value.code == -32601


@covers("get-circuit-ids", "set-circuit-thickness")
async def scenario_circuit_explorer(ctx: Context) -> None:
    instance = ctx.instance
    model_id = (await add_sphere(ctx)).model_id
    # Not a circuit: no cells (the fake server loads no circuits).
    assert await api.get_circuit_ids(instance, api.GetCircuitIdsMessage(model_id=model_id)) == []
    params = api.SetCircuitThicknessMessage(model_id=model_id, radius_multiplier=2)
    await api.set_circuit_thickness(instance, params)
    with pytest.raises(JsonRpcError) as info:
        await api.get_circuit_ids(instance, api.GetCircuitIdsMessage(model_id=42))
    assert info.value.code == INVALID_PARAMS


@covers("get-available-atlas-usecases", "visualize-atlas-usecase")
async def scenario_atlas_explorer(ctx: Context) -> None:
    instance = ctx.instance
    model = await add_sphere(ctx)
    # The fake server loads no atlas volume, so none of its use cases applies.
    use_cases = await api.get_available_atlas_usecases(
        instance, api.AvailableUseCasesMessage(model_id=model.model_id)
    )
    assert use_cases == []
    params = api.VisualizeUseCaseMessage(model_id=model.model_id, use_case="Density", params={})
    atlas = await api.visualize_atlas_usecase(instance, params)
    assert atlas.model_type == "atlas_usecase"
    assert atlas.model_id == model.model_id + 1
    assert atlas.bounds == model.bounds


@covers("quit")
async def scenario_quit(ctx: Context) -> None:
    await api.quit(ctx.instance)
    with trio.fail_after(10):
        await ctx.server.wait_stopped()


def test_every_entrypoint_has_a_scenario() -> None:
    assert set(SCENARIOS) == set(api.ENTRYPOINTS)


# Renders take 3 s of virtual time (progress every second): long enough to cancel one.
@pytest.mark.brayns_fake(plugins=PLUGINS, snapshot_duration=3.0)
@pytest.mark.parametrize("method", sorted(SCENARIOS))
async def test_entrypoint_against_fake_server(
    method: str,
    brayns_instance: Instance,
    brayns_fake_server: FakeBrayns,
    tmp_path: Path,
    autojump_clock: trio.testing.MockClock,
) -> None:
    await SCENARIOS[method](Context(brayns_instance, brayns_fake_server, tmp_path))
    assert method in brayns_fake_server.executed_methods


# -- (d) client-side validation ------------------------------------------------------------------

BAD_PARAMS: list[tuple[str, Any]] = [
    ("set-camera-view", {"position": [1, 2], "target": [0, 0, "0"]}),
    ("set-camera-view", api.View(position=[1, 2], target=[0, 0, 0], up=[0, 1, 0, 0])),
    ("get-model", None),  # sent as {}: the id is missing
    ("get-model", {"id": -1}),
    ("render-image", {"jpeg_quality": 101, "format": 3, "colour": True}),
    ("set-simulation-parameters", {"current": 1.5, "dt": 0.1}),  # dt is read-only
    ("cancel", {"id": 1.5}),
    ("export-gbuffers", {"channels": ["color", "colour"]}),
    (
        "add-spheres",
        [red({"center": [0, 0, 0], "radius": 1}), red({"center": [0, 0], "radius": "big"})],
    ),
    ("add-spheres", {"center": [0, 0, 0]}),
    ("update-model", {"model_id": 0, "model": {"model_id": 1, "transform": {"scale": [1]}}}),
    ("color-model", {"id": 0, "method": "solid", "values": {"a": [1, 2, 3], "b": "x"}}),
    # (The typed classes refuse a side under 64: a raw size the schema refuses.)
    ("snapshot", {"image_settings": {"size": [64, 64, 64], "quality": -1}}),
]


@pytest.mark.brayns_fake(plugins=PLUGINS)
@pytest.mark.parametrize(("method", "params"), BAD_PARAMS)
async def test_validate_params_raises_what_the_server_answers(
    method: str, params: Any, brayns_instance: Instance
) -> None:
    with pytest.raises(JsonRpcError) as sent:
        await brayns_instance.request(method, api.to_json(params))
    with pytest.raises(JsonRpcError) as checked:
        api.validate_params(method, params)
    assert sent.value.code == INVALID_PARAMS
    assert (checked.value.code, checked.value.message, checked.value.data) == (
        sent.value.code,
        sent.value.message,
        sent.value.data,
    )
    assert checked.value.data  # a list of "path: message"


async def test_validate_params_on_no_params_methods(server_client: RawClient) -> None:
    # The server answers an invalid-params error; the client refuses to send such a request at
    # all, as a mistake of the caller, and validation says so the same way.
    await server_client.request("get-camera-view", {"position": [0, 0, 0]})
    error = (await server_client.receive_json())["error"]
    assert error == {"code": -32602, "message": "This method takes no params"}
    with pytest.raises(ValueError, match=r"^method 'get-camera-view' takes no params, got"):
        api.validate_params("get-camera-view", {"position": [0, 0, 0]})
    api.validate_params("get-camera-view")
    api.validate_params("get-camera-view", {})  # the client leaves an empty object out


@pytest.fixture
async def server_client(brayns_fake_server: FakeBrayns) -> RawClient:
    client = RawClient(await brayns_fake_server.open_memory_stream())
    await client.handshake()
    return client


def test_validate_params_accepts_good_params() -> None:
    api.validate_params(
        "set-camera-view", api.View(position=[0, 0, 1], target=[0, 0, 0], up=[0, 1, 0])
    )
    api.validate_params("snapshot")
    api.validate_params(
        "snapshot", api.SnapshotParams(image_settings=api.ImageSettings(size=[64, 64]))
    )
    api.validate_params(
        "add-spheres", [red({"center": (0, 0, 0), "radius": 1})]
    )  # tuples are arrays
    api.validate_params("set-simulation-parameters", api.SetSimulationParametersParams(current=1))
    api.validate_params("no-such-method", {"anything": 1})  # not in the reference: not checked
    with pytest.raises(TypeError):
        api.validate_params("get-model", {"id": object()})


@pytest.mark.brayns_fake(plugins=PLUGINS)
@pytest.mark.brayns_settings(validate_params=True)
async def test_settings_validate_params_checks_before_sending(
    brayns_instance: Instance, brayns_fake_server: FakeBrayns
) -> None:
    sent = brayns_instance.stats.requests_sent
    with pytest.raises(JsonRpcError) as info:
        await api.set_camera_view(
            brayns_instance, api.View(position=[1, 2], target=[0, 0, 0], up=[0, 1, 0])
        )
    assert info.value.data == ["position: item count below minimum 2 < 3"]
    with pytest.raises(JsonRpcError) as info:
        await brayns_instance.request("get-model")
    assert info.value.data == ["missing required property 'id'"]
    with pytest.raises(JsonRpcError) as info:
        async with brayns_instance.task("snapshot", {"file_path": 3}):
            pass
    assert info.value.data == ["file_path: invalid type, expected string got integer"]
    assert brayns_instance.stats.requests_sent == sent  # nothing left the client
    # Valid requests and methods unknown to the reference go through.
    assert (await api.get_camera_view(brayns_instance)).up == [0, 1, 0]
    with pytest.raises(JsonRpcError) as info:
        await brayns_instance.request("no-such-method", {"x": 1})
    assert info.value.code == -32601  # the server's answer
    assert "set-camera-view" not in brayns_fake_server.executed_methods


@pytest.mark.brayns_fake(plugins=PLUGINS)
@pytest.mark.parametrize(
    "validate",
    [
        pytest.param(value, marks=pytest.mark.brayns_settings(validate_params=value))
        for value in (False, True)
    ],
)
async def test_params_for_a_method_without_params_raise_alike_validated_or_not(
    brayns_instance: Instance,
    brayns_fake_server: FakeBrayns,
    brayns_settings: Settings,
    validate: bool,
) -> None:
    assert brayns_settings.validate_params is validate
    sent = brayns_instance.stats.requests_sent
    with pytest.raises(ValueError, match=r"^method 'get-version' takes no params, got"):
        await brayns_instance.request("get-version", {"x": 1})
    with pytest.raises(ValueError, match=r"^method 'get-version' takes no params, got"):
        brayns_trio.api.validate_params("get-version", [1])
    assert brayns_instance.stats.requests_sent == sent
    assert (await brayns_instance.request("get-version", {}))["major"] == 3
    assert brayns_fake_server.executed_methods.count("get-version") == 1
