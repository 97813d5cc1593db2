"""A blocking API for plain scripts, Jupyter and asyncio applications.

::

    import brayns_trio.blocking

    with brayns_trio.blocking.connect("localhost:5000") as instance:
        print(instance.request("get-version"))
        image = instance.helpers.snapshot(size=(1920, 1080))

:func:`connect` starts a background thread that runs a Trio event loop (``trio.run``) holding an
ordinary :class:`brayns_trio.Instance` open, with all its self-healing (reconnect, outcomes,
waiting for the link). Each blocking method hands its coroutine to that loop through the loop's
:class:`trio.lowlevel.TrioToken` (``run_sync_soon``, the primitive ``trio.from_thread`` is built
on; ``trio.from_thread.run_sync`` reads the counters), runs it there in a task of its own inside a
cancel scope, and waits for its outcome in the calling thread. Nothing here touches an asyncio
loop, so it works the same from a script, a Jupyter cell (whose loop runs in the main thread) or
an asyncio application (through ``asyncio.to_thread``). Any number of threads may call one
instance at once: the calls are pipelined on the one link.

Outcomes are those of the async API: a call returns what the coroutine returns and raises what
it raises, the very exception objects (:class:`brayns_trio.JsonRpcError`,
:class:`brayns_trio.RequestNotSent`, :class:`brayns_trio.OutcomeUnknown`, ...), never wrapped.

Ctrl-C: a ``KeyboardInterrupt`` in the thread waiting for a call (Python delivers it to the main
thread) cancels that call in the event loop -- which sends the server a ``cancel`` for the four
asynchronous methods, as cancelling an async caller does -- waits for it to finish cancelling,
and raises ``KeyboardInterrupt``. The instance stays connected and usable. A second Ctrl-C while
the call is cancelling stops the wait at once (the call still ends in the background).

Any async function of the library, or of the user, is available: :meth:`BlockingInstance.call`
runs ``fn(async_instance, *args)`` (fully typed), :meth:`BlockingInstance.run` any coroutine
function, :meth:`BlockingInstance.iterate` an async iterator, :meth:`BlockingInstance.enter` an
async context manager. :attr:`BlockingInstance.api` and :attr:`BlockingInstance.helpers` wrap the
typed API (:mod:`brayns_trio.api`) and the helpers (:mod:`brayns_trio.helpers`) whole, and
:meth:`BlockingInstance.namespace` wraps any other module the same way: each async function whose
first parameter is ``instance`` becomes a blocking method without it. ``api`` and ``helpers`` are
typed for static checkers by protocols generated from the modules' source
(``brayns_trio._blocking_types``, ``scripts/generate_blocking.py``).
"""

from __future__ import annotations

from ._instance import BlockingInstance, connect
from ._namespace import BlockingNamespace
from ._wrappers import BlockingChannel, BlockingIterator, BlockingTask

__all__ = [
    "BlockingChannel",
    "BlockingInstance",
    "BlockingIterator",
    "BlockingNamespace",
    "BlockingTask",
    "connect",
]
