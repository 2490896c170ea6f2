"""Registry of every style-transfer network of the suite (ours and the baselines).

A network registers itself where it is defined, timm style::

    @register_model("adain")
    class AdaINNet(StyleTransferNet): ...

:func:`models` (also readable as ``MODELS``) maps each short name to its class: tests parametrise
over it, the paper table takes its columns from it and the checkpoint reader its allow-list
(:func:`stylekernel.nn.base.registered_networks`), so a model is tested, tabled and loadable the
moment its file says ``@register_model``. Importing this module imports no model; the first
:func:`models` call imports every module of :mod:`stylekernel.nn` and :mod:`stylekernel.baselines`
(a new baseline is one file there, plus its ``configs/model/<name>.yaml``). In YAML a model is its
``class_path``; :func:`build` serves scripts and benchmarks.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Callable, TypeVar

from stylekernel.errors import check
from stylekernel.nn.base import StyleTransferNet

__all__ = ["MODELS", "build", "models", "register_model"]

# packages whose modules hold the built-in networks, in the order their models are listed (ours first)
_MODEL_PACKAGES = ("stylekernel.nn", "stylekernel.baselines")
_REGISTRY: dict[str, type[StyleTransferNet]] = {}
_builtins_imported = False

N = TypeVar("N", bound=type[StyleTransferNet])


def register_model(name: str) -> Callable[[N], N]:
    """Class decorator: register a :class:`StyleTransferNet` subclass under ``name``.

    ``name`` is the short name of ``configs/model/<name>.yaml``, the paper table's column and
    :func:`build`'s argument. Raises ValueError for an empty name or a name taken by another class
    (re-running the same class definition, e.g. a module reload, replaces the entry); TypeError
    for a class that is not a StyleTransferNet.
    """
    if not isinstance(name, str) or not name or name != name.strip():
        raise ValueError(f"register_model needs a non-empty name without spaces around it, got {name!r}")

    def decorate(cls: N) -> N:
        if not (isinstance(cls, type) and issubclass(cls, StyleTransferNet)):
            raise TypeError(f"@register_model({name!r}) decorates StyleTransferNet subclasses, got {cls!r}")
        taken = _REGISTRY.get(name)
        if taken is not None and _class_path(taken) != _class_path(cls):
            raise ValueError(f"model name {name!r} is already registered by {_class_path(taken)}, not {_class_path(cls)}")
        _REGISTRY[name] = cls
        return cls

    return decorate


def _class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _import_builtin_models() -> None:
    """Import every module of :data:`_MODEL_PACKAGES` once (their decorators register the models)."""
    global _builtins_imported
    if _builtins_imported:
        return
    for package_name in _MODEL_PACKAGES:
        package = importlib.import_module(package_name)
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            if not info.ispkg and not info.name.startswith("_"):
                importlib.import_module(f"{package_name}.{info.name}")
    _builtins_imported = True


def _order(item: tuple[int, tuple[str, type[StyleTransferNet]]]) -> tuple[int, str, int]:
    """Built-in models by package (ours first) and module name; any other registered model after them."""
    index, (_, cls) = item
    package, _, module = cls.__module__.rpartition(".")
    if package in _MODEL_PACKAGES:
        return _MODEL_PACKAGES.index(package), module, index
    return len(_MODEL_PACKAGES), "", index


def models() -> dict[str, type[StyleTransferNet]]:
    """``{name: class}`` of every registered network: the built-in ones (imported on first call),
    ours first, then the baselines by module name, then models registered by other packages in
    the order they were registered. A new dict on each call."""
    _import_builtin_models()
    return dict(item for _, item in sorted(enumerate(_REGISTRY.items()), key=_order))


def build(name: str, **kwargs: Any) -> StyleTransferNet:
    """Build the registered network ``name`` with constructor arguments ``kwargs``.

    Raises ConfigError for an unknown name; the constructor raises it for bad arguments.
    """
    known = models()
    check(name in known, f"model must be one of {sorted(known)}, got {name!r}")
    return known[name](**kwargs)


def __getattr__(name: str) -> Any:
    """``MODELS``: :func:`models` (read lazily, so importing this module imports no model)."""
    if name == "MODELS":
        return models()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
