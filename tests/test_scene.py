"""Scene helpers (``brayns_trio.scene``): pure maths, and the calls against the fake server."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brayns_trio import Instance, JsonRpcError, api, helpers, scene
from brayns_trio.colors import Color3, Color4
from brayns_trio.geometry import Bounds, Rotation, Transform, Vector3

PLUGINS = ("braynsCircuitExplorer", "braynsAtlasExplorer")

SPHERE = api.Sphere(center=[0, 0, 0], radius=1)

pytestmark = pytest.mark.brayns_fake(plugins=PLUGINS)


def test_clip_plane() -> None:
    plane = scene.clip_plane(normal=(0, 0, -2), point=(0, 0, 5))
    assert plane.coefficients == [0.0, 0.0, -1.0, 5.0]
    a, b, c, d = plane.coefficients
    assert a * 0 + b * 0 + c * 5 + d == 0  # the point is on the plane
    with pytest.raises(ValueError, match="zero vector"):
        scene.clip_plane(normal=(0, 0, 0))


async def test_clipping(brayns_instance: Instance) -> None:
    model = await scene.add_clipping(
        brayns_instance, [scene.clip_plane((1, 0, 0))], invert_normals=True
    )
    spheres = await scene.add_clipping(brayns_instance, [SPHERE, SPHERE])
    assert spheres.model_id != model.model_id
    ids = {m.model_id for m in await helpers.list_models(brayns_instance)}
    assert ids == {model.model_id, spheres.model_id}
    await scene.clear_clipping(brayns_instance)
    assert await helpers.list_models(brayns_instance) == []
    with pytest.raises(ValueError, match="at least one"):
        await scene.add_clipping(brayns_instance, [])
    with pytest.raises(ValueError, match="one class"):
        await scene.add_clipping(brayns_instance, [SPHERE, scene.clip_plane((1, 0, 0))])
    with pytest.raises(TypeError, match="not a clipping primitive"):
        await scene.add_clipping(brayns_instance, [api.Cylindric()])  # type: ignore[list-item]


async def test_update_model_transform_and_visibility(brayns_instance: Instance) -> None:
    model = await helpers.add_spheres(brayns_instance, [SPHERE])
    transform = Transform(translation=(10, 0, 0), scale=(2, 2, 2))
    moved = await scene.set_model_transform(brayns_instance, model.model_id, transform)
    assert Transform.from_api(moved.transform) == transform
    hidden = await scene.set_model_visible(brayns_instance, model.model_id, False)
    assert hidden.is_visible is False
    assert Transform.from_api(hidden.transform) == transform
    both = await scene.update_model(
        brayns_instance,
        model.model_id,
        transform=Transform(rotation=Rotation.from_euler(0, 90, 0, degrees=True)),
        visible=True,
    )
    assert both.is_visible is True
    # The whole transform is sent: translation and scale are back to the identity's.
    assert Transform.from_api(both.transform).translation == Vector3.ZERO


async def test_instantiate_model(brayns_instance: Instance) -> None:
    model = await helpers.add_spheres(brayns_instance, [SPHERE])
    copies = await scene.instantiate_model(
        brayns_instance, model.model_id, [Transform(translation=(x, 0, 0)) for x in (5, 10)]
    )
    assert [Bounds.from_api(copy.bounds).center for copy in copies] == [
        Vector3(5, 0, 0),
        Vector3(10, 0, 0),
    ]
    with pytest.raises(ValueError, match="at least one"):
        await scene.instantiate_model(brayns_instance, model.model_id, [])


def test_opacity_curve_matches_the_official_client() -> None:
    brayns = pytest.importorskip("brayns")
    points = [(0.2, 0.5), (0.7, 0.1)]
    colors = [Color3(i / 9, 0, 1 - i / 9) for i in range(10)]
    ours = scene.OpacityCurve([scene.ControlPoint(*p) for p in points]).apply(colors)
    theirs = brayns.OpacityCurve([brayns.ControlPoint(*p) for p in points]).apply(
        [brayns.Color3(*c) for c in colors]
    )
    assert [x for c in ours for x in c] == pytest.approx([x for c in theirs for x in c])


@given(
    st.lists(
        st.builds(scene.ControlPoint, st.floats(0, 1), st.floats(0, 1)), min_size=0, max_size=5
    ),
    st.floats(0, 1),
)
def test_opacity_stays_within_the_control_points(
    points: list[scene.ControlPoint], value: float
) -> None:
    curve = scene.OpacityCurve(points)
    opacity = curve.opacity(value)
    bounds = [p.opacity for p in points] + [0.0, 1.0]
    assert min(bounds) - 1e-9 <= opacity <= max(bounds) + 1e-9
    assert curve.opacity(-5) == curve.opacity(0)


def test_color_ramp() -> None:
    ramp = scene.ColorRamp(value_range=(-80, 10), colors=[Color4.BLUE, (1, 0, 0)])
    assert ramp.to_api() == api.ColorRamp(range=[-80, 10], colors=[[0, 0, 1, 1], [1, 0, 0, 1]])
    assert scene.ColorRamp.from_api(ramp.to_api()) == ramp
    faded = ramp.with_opacity(scene.OpacityCurve([]))
    assert [color.a for color in faded.colors] == [0.0, 1.0]
    with pytest.raises(ValueError, match="min <= max"):
        scene.ColorRamp(value_range=(1, 0), colors=[Color4.RED])
    with pytest.raises(ValueError, match="1 to 256"):
        scene.ColorRamp(value_range=(0, 1), colors=[Color4.RED] * 257)
    with pytest.raises(ValueError, match="within"):
        scene.ControlPoint(1.5, 0)


async def test_color_ramp_of_a_model_without_one(brayns_instance: Instance) -> None:
    model = await helpers.add_spheres(brayns_instance, [SPHERE])
    with pytest.raises(JsonRpcError, match="does not have a color ramp"):
        await scene.get_color_ramp(brayns_instance, model.model_id)
    ramp = scene.ColorRamp(value_range=(0, 1), colors=[Color4.RED])
    with pytest.raises(JsonRpcError, match="does not have a color ramp"):
        await scene.set_color_ramp(brayns_instance, model.model_id, ramp)


async def test_framebuffer(brayns_instance: Instance) -> None:
    await api.set_application_parameters(
        brayns_instance, api.SetApplicationParametersParams(viewport=[800, 600])
    )
    await scene.set_framebuffer(brayns_instance, "progressive", scale=4)
    await scene.set_framebuffer(brayns_instance)
    with pytest.raises(ValueError, match="at least 1"):
        await scene.set_framebuffer(brayns_instance, "progressive", scale=0)


def test_simulation_time() -> None:
    sim = scene.Simulation(
        start_frame=0, end_frame=100, current=0, dt=0.1, unit=scene.TimeUnit.MILLISECOND
    )
    assert sim.frame_count == 101
    assert sim.duration == pytest.approx(10.0)
    assert sim.time_of(25) == pytest.approx(2.5)
    assert sim.frame_at(2.5) == 25
    assert sim.frame_at(1000) == 100
    assert sim.clamp(-3) == 0
    # 10 ms of simulation at 1/1000 real speed: 10 s of movie, 250 frames at 25 fps.
    frames = sim.frames_for(25, speed=0.001)
    assert len(frames) == 251
    assert frames[:4] == [0, 0, 0, 1]  # 0.04 ms of simulation per movie frame
    assert frames[-1] == 100
    # A hundredth of real time at 25 fps: 0.4 ms of simulation per movie frame, every 4th frame.
    assert sim.frames_for(25, speed=0.01, first=10, last=20) == [10, 14, 18]
    assert sim.frames_for(25, first=50, last=40) == []
    none = scene.Simulation(start_frame=0, end_frame=0, current=0, dt=0, unit="ms")
    assert none.frame_count == 0
    with pytest.raises(ValueError, match="no simulation"):
        none.frame_at(1)
    assert scene.TimeUnit.MILLISECOND.seconds == 1e-3
    assert math.isclose(scene.TimeUnit.SECOND.seconds, 1)


async def test_get_simulation(brayns_instance: Instance) -> None:
    sim = await scene.get_simulation(brayns_instance)
    assert sim.unit == scene.TimeUnit.MILLISECOND
    assert sim.frame_count == 0  # no simulation loaded: dt is 0


async def test_circuit_and_atlas_calls(brayns_instance: Instance) -> None:
    model = await helpers.add_spheres(brayns_instance, [SPHERE])
    assert await scene.get_circuit_ids(brayns_instance, model.model_id) == []
    await scene.set_circuit_thickness(brayns_instance, model.model_id, 2.0)
    with pytest.raises(ValueError, match="positive"):
        await scene.set_circuit_thickness(brayns_instance, model.model_id, 0)
    assert await scene.get_atlas_use_cases(brayns_instance, model.model_id) == []
    result = await scene.visualize_atlas_use_case(
        brayns_instance, model.model_id, scene.UseCase("Density", {})
    )
    assert result.model_id != model.model_id
    with pytest.raises(JsonRpcError, match="No model found"):
        await scene.get_circuit_ids(brayns_instance, 999)
    assert scene.CircuitColorMethod.MTYPE == "mtype"


@pytest.mark.brayns_fake(plugins=())
async def test_plugin_calls_without_the_plugin(brayns_instance: Instance) -> None:
    with pytest.raises(JsonRpcError) as error:
        await scene.get_circuit_ids(brayns_instance, 0)
    assert error.value.code == -32601
