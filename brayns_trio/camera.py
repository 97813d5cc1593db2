"""Cameras: views, a controller that frames bounds, orbits, presets, near clip and region.

::

    from brayns_trio import camera, geometry, images

    bounds = geometry.Bounds.from_api((await api.get_scene(instance)).bounds)
    controller = camera.CameraController.for_resolution(bounds, images.Resolution.FULL_HD)
    await camera.set_camera(instance, controller.camera)                  # front view
    await camera.set_camera(instance, controller.orbit(geometry.CameraRotation.TOP).camera)

The controller is pure (no server call): :attr:`CameraController.camera` computes a
:class:`Camera` (view and projection) in which the target bounds fill the image of the given
aspect ratio; :func:`set_camera` sends it. Pass the resolution of the images you will render
(the server's viewport is not used: a snapshot's size is often not the viewport's).

Conventions: the front view looks at the target along -Z (the camera stands on +Z), Y up. A
rotation of the controller turns the camera around the target's centre
(:class:`brayns_trio.geometry.CameraRotation` has the six sides).
"""

from __future__ import annotations

from . import api
from ._camera_model import DEFAULT_FOVY as DEFAULT_FOVY
from ._camera_model import DEFAULT_PROJECTION as DEFAULT_PROJECTION
from ._camera_model import Camera as Camera
from ._camera_model import CameraController as CameraController
from ._camera_model import Projection as Projection
from ._camera_model import Region as Region
from ._camera_model import View as View
from ._camera_model import orbit_path as orbit_path
from ._instance import Instance
from .geometry import Rotation

__all__ = [
    "DEFAULT_FOVY",
    "DEFAULT_PROJECTION",
    "Camera",
    "CameraController",
    "Projection",
    "Region",
    "View",
    "get_camera",
    "get_near_clip",
    "get_region",
    "get_view",
    "orbit",
    "orbit_path",
    "set_camera",
    "set_near_clip",
    "set_region",
    "set_view",
]


# -- server calls -------------------------------------------------------------------------------


async def get_view(instance: Instance) -> View:
    """Return the camera's view.

    Error handling: as :mod:`brayns_trio.helpers`.
    """
    return View.from_api(await api.get_camera_view(instance))


async def set_view(instance: Instance, view: View) -> None:
    """Set the camera's view.

    Error handling: as :mod:`brayns_trio.helpers`.
    """
    await api.set_camera_view(instance, view.to_api())


async def orbit(instance: Instance, rotation: Rotation) -> View:
    """Turn the current camera around its target by ``rotation`` and return the new view.

    Error handling: as :mod:`brayns_trio.helpers`.
    """
    view = (await get_view(instance)).rotate_around_target(rotation)
    await set_view(instance, view)
    return view


async def get_near_clip(instance: Instance) -> float:
    """Return the camera's near clipping distance (1e-6 by default).

    Error handling: as :mod:`brayns_trio.helpers`.
    """
    return (await api.get_camera_near_clip(instance)).distance


async def set_near_clip(instance: Instance, distance: float) -> None:
    """Set the camera's near clipping distance: nothing closer to the camera is drawn.

    Error handling: as :mod:`brayns_trio.helpers`; ``ValueError`` (before anything is sent)
    for a negative distance, which the server refuses.
    """
    if not distance >= 0:
        raise ValueError(f"the near clipping distance cannot be negative: {distance}")
    await api.set_camera_near_clip(instance, api.CameraNearClipMessage(distance=distance))


async def get_region(instance: Instance) -> Region:
    """Return the part of the image plane rendered (:data:`Region.FULL` by default).

    Error handling: as :mod:`brayns_trio.helpers`.
    """
    return Region.from_api(await api.get_camera_region(instance))


async def set_region(instance: Instance, region: Region) -> None:
    """Render only ``region`` of the image plane (stretched to the whole image).

    Error handling: as :mod:`brayns_trio.helpers` (-32603 from the server for a region that is
    not within ``[0, 1]`` or is empty).
    """
    await api.set_camera_region(instance, region.to_api())


async def get_camera(instance: Instance) -> Camera:
    """Return the current camera: view, projection (perspective or orthographic), near clip
    and region.

    Error handling: as :mod:`brayns_trio.helpers`; ``ValueError`` when the camera's type is
    another (a plugin's): use :func:`brayns_trio.helpers.get_projection` for those.
    """
    name = await api.get_camera_type(instance)
    projection: Projection
    if name == "perspective":
        projection = await api.get_camera_perspective(instance)
    elif name == "orthographic":
        projection = await api.get_camera_orthographic(instance)
    else:
        raise ValueError(f"the camera is a {name!r} camera, not perspective or orthographic")
    return Camera(
        view=await get_view(instance),
        projection=projection,
        near_clip=await get_near_clip(instance),
        region=await get_region(instance),
    )


async def set_camera(instance: Instance, camera: Camera) -> None:
    """Make ``camera`` the server's camera: projection, view, then near clip and region if set.

    Error handling: as :mod:`brayns_trio.helpers` and :func:`set_near_clip`.
    """
    if isinstance(camera.projection, api.Perspective):
        await api.set_camera_perspective(instance, camera.projection)
    else:
        await api.set_camera_orthographic(instance, camera.projection)
    await set_view(instance, camera.view)
    if camera.near_clip is not None:
        await set_near_clip(instance, camera.near_clip)
    if camera.region is not None:
        await set_region(instance, camera.region)
