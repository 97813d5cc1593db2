"""Geometry maths: vectors, quaternions, rotations, bounds and transforms.

::

    from brayns_trio.geometry import Bounds, Rotation, Transform, Vector3

    rotation = Rotation.from_euler(0, 90, 0, degrees=True)
    rotation.apply(Vector3(1, 0, 0))            # about Vector3(0, 0, -1)
    transform = Transform(translation=Vector3(0, 1, 0), rotation=rotation)
    transform.to_api()                          # api.Transform for update-model
    Bounds.from_api(model.bounds).center        # model: an api.ModelInstance

Every class is an immutable (frozen) attrs class: operations return new values. The classes
holding numbers are *tuple-like*: they iterate over their components, have a length and can be
indexed, so ``list(v)``, ``x, y, z = v`` and ``numpy.asarray(v)`` work; their constructors'
``of`` class methods accept any sequence of numbers (lists, tuples, numpy arrays).

Conventions are those of Brayns: right-handed axes, X to the right, Y up, Z towards the viewer
(the front); quaternions are stored XYZW as in the API's ``Transform.rotation``; euler angles are
extrinsic X then Y then Z.
"""

from ._bounds import Bounds as Bounds
from ._bounds import merge_bounds as merge_bounds
from ._components import _TupleLike as _TupleLike  # base of colours and resolutions
from ._rotation import CameraRotation as CameraRotation
from ._rotation import ModelRotation as ModelRotation
from ._rotation import Quaternion as Quaternion
from ._rotation import Rotation as Rotation
from ._transform import Transform as Transform
from ._vectors import Axis as Axis
from ._vectors import Vector2 as Vector2
from ._vectors import Vector3 as Vector3

__all__ = [
    "Axis",
    "Bounds",
    "CameraRotation",
    "ModelRotation",
    "Quaternion",
    "Rotation",
    "Transform",
    "Vector2",
    "Vector3",
    "merge_bounds",
]
