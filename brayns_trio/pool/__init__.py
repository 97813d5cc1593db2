"""A pool of Brayns servers that share one scene and share out work, surviving crashes.

::

    async def build(instance):
        await helpers.add_spheres(instance, [api.Sphere(center=[0, 0, 0], radius=1)])

    async def render(instance, frame):
        return await helpers.snapshot(instance, size=(640, 480), simulation_frame=frame)

    async with brayns_trio.open_pool(["node1:5000", "node2:5000"], setup=build) as pool:
        async with pool.map(render, range(100)) as results:
            async for result in results:
                ...

One self-healing instance per server (a *member*), each opened with the pool's
:class:`~brayns_trio.journal.Journal`: ``setup`` runs once, on the first member that connects,
with its calls recorded; every other member (and any member whose server restarts empty) gets
the journal replayed before it takes work. A member down for longer than ``set_aside_after`` is
set aside, and tried again every ``retry_after`` seconds.

Work: each member runs ``per_member`` items at a time (Brayns renders one request at a time:
more only queue on the server). An item whose member fails under it (the request could not be
sent, or the link was lost before its reply, or the scene could not be rebuilt) goes back to
the queue and runs on the next free member; an error of the job itself (an exception that is
not a lost link, a :class:`JsonRpcError` included) is that item's result. Every item gets
exactly one :class:`ItemResult`.

The package's modules: ``_records`` (what the pool reports), ``_members`` (the members and the
scene they share), ``_work`` (sharing out the items), ``_pool`` (the :class:`Pool` and
:func:`open_pool`).
"""

from ._pool import Pool as Pool
from ._pool import open_pool as open_pool
from ._records import ItemResult as ItemResult
from ._records import Job as Job
from ._records import MemberInfo as MemberInfo
from ._records import MemberState as MemberState
from ._records import PoolProgress as PoolProgress
from ._records import PoolStalled as PoolStalled

__all__ = [
    "ItemResult",
    "MemberInfo",
    "MemberState",
    "Pool",
    "PoolProgress",
    "PoolStalled",
    "open_pool",
]
