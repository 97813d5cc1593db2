"""A self-healing, structured-concurrency client for the Brayns renderer's JSON-RPC API.

::

    async with brayns_trio.open_instance("localhost:5000") as instance:
        print(await brayns_trio.get_version(instance))
"""

from ._backoff import Backoff as Backoff
from ._errors import BraynsConnectionError as BraynsConnectionError
from ._errors import BraynsError as BraynsError
from ._errors import ConnectError as ConnectError
from ._errors import ConnectionLost as ConnectionLost
from ._errors import InstanceClosed as InstanceClosed
from ._errors import JsonRpcError as JsonRpcError
from ._errors import LocalProtocolError as LocalProtocolError
from ._errors import OutcomeUnknown as OutcomeUnknown
from ._errors import ProtocolError as ProtocolError
from ._errors import RemoteProtocolError as RemoteProtocolError
from ._errors import RequestNotSent as RequestNotSent
from ._errors import TaskCancelledError as TaskCancelledError
from ._errors import VersionError as VersionError
from ._instance import Instance as Instance
from ._instance import State as State
from ._instance import StateChange as StateChange
from ._instance import Stats as Stats
from ._instance import Task as Task
from ._instance import open_instance as open_instance
from ._messages import Progress as Progress
from ._messages import Reply as Reply
from ._pipeline import Outcome as Outcome
from ._pipeline import Pipeline as Pipeline
from ._settings import FirstConnect as FirstConnect
from ._settings import Settings as Settings
from ._version import SUPPORTED_VERSION as SUPPORTED_VERSION
from ._version import Version as Version
from ._version import check_version as check_version
from ._version import get_version as get_version
from .journal import Journal as Journal
from .pool import Pool as Pool
from .pool import open_pool as open_pool

__version__ = "0.1.0"

__all__ = [
    "SUPPORTED_VERSION",
    "Backoff",
    "BraynsConnectionError",
    "BraynsError",
    "ConnectError",
    "ConnectionLost",
    "FirstConnect",
    "Instance",
    "InstanceClosed",
    "Journal",
    "JsonRpcError",
    "LocalProtocolError",
    "Outcome",
    "OutcomeUnknown",
    "Pipeline",
    "Pool",
    "Progress",
    "ProtocolError",
    "RemoteProtocolError",
    "Reply",
    "RequestNotSent",
    "Settings",
    "State",
    "StateChange",
    "Stats",
    "Task",
    "TaskCancelledError",
    "Version",
    "VersionError",
    "check_version",
    "get_version",
    "open_instance",
    "open_pool",
]
