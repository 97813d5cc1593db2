"""A module's async functions as blocking methods of one instance (:class:`BlockingNamespace`)."""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._instance import BlockingInstance
    from ._wrappers import BlockingIterator


class BlockingNamespace:
    """A module's async functions as blocking methods of one instance.

    Attribute ``name`` of the namespace is ``module.name``, transformed by what it is:

    - an async function whose first parameter is named ``instance``: a blocking function
      without it (``fn(*args)`` runs ``await fn(async_instance, *args)``, see
      :meth:`BlockingInstance.call`);
    - an async generator function taking ``instance`` first: a function returning a
      :class:`BlockingIterator` (see :meth:`BlockingInstance.iterate`);
    - any other async function: a blocking function with the same arguments;
    - anything else (classes, constants, plain functions): itself.

    ``dir()`` lists the module's public names (tab completion in Jupyter). The wrappers keep the
    functions' names and docstrings. Static type checkers see a namespace from
    :meth:`BlockingInstance.namespace` as ``Any``: use :meth:`BlockingInstance.call` where types
    matter (:attr:`BlockingInstance.api` and :attr:`BlockingInstance.helpers` are typed).
    """

    def __init__(self, instance: BlockingInstance, module: types.ModuleType) -> None:
        self._instance = instance
        self._module = module
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._cache[name]
        except KeyError:
            pass
        try:
            value = getattr(self._module, name)
        except AttributeError:
            raise AttributeError(f"{self._module.__name__} has no attribute {name!r}") from None
        wrapped = self._cache[name] = _wrap(self._instance, value)
        return wrapped

    def __dir__(self) -> list[str]:
        names = getattr(self._module, "__all__", None)
        if names is None:
            names = [name for name in vars(self._module) if not name.startswith("_")]
        return sorted(names)

    def __repr__(self) -> str:
        return f"<BlockingNamespace {self._module.__name__}>"


def _takes_instance(fn: Callable[..., Any]) -> bool:
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    return bool(parameters) and parameters[0].name == "instance"


def _wrap(instance: BlockingInstance, value: Any) -> Any:
    if inspect.isasyncgenfunction(value):
        if _takes_instance(value):

            @functools.wraps(value)
            def iterate(*args: Any, **kwargs: Any) -> BlockingIterator[Any]:
                return instance.iterate(value, *args, **kwargs)

            return iterate
        return value
    if inspect.iscoroutinefunction(value):
        if _takes_instance(value):

            @functools.wraps(value)
            def call(*args: Any, **kwargs: Any) -> Any:
                return instance.call(value, *args, **kwargs)

            return call

        @functools.wraps(value)
        def run(*args: Any, **kwargs: Any) -> Any:
            return instance.run(value, *args, **kwargs)

        return run
    return value
