"""Importing the peers' released weights into suite checkpoints (``stylekernel weights import``).

Each peer (AdaIN, SANet, AdaAttN, AdaConv, StyTr-2) has a module in this package that registers
a :class:`Release`: the files the peer publishes (one per CLI part) and a ``build`` function that
reads them, maps their keys onto the suite's network and returns the network in eval mode.
:func:`import_release` turns the result into a checkpoint that ``stylize``, ``evaluate``,
``predict`` and ``fit --ckpt_path`` read like any checkpoint written by ``stylekernel fit``.

Every failure (a missing, truncated or foreign file, a key or shape mismatch) is one
:class:`ReleaseImportError` line naming the file, the part and the first mismatched key; nothing
is written then.
"""

from __future__ import annotations

import importlib
import os
import pickle
import re
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from torch import Tensor, nn

from stylekernel.atomic import atomic_write
from stylekernel.errors import ConfigError

# The per-method modules, imported (and so registered) on first use.
_MODULES = ("adain", "sanet", "adaconv", "adaattn", "stytr2")


class ReleaseImportError(ConfigError):
    """A peer's file cannot be imported; the message names the file, the part and the first
    mismatched key."""


BuildFn = Callable[[dict[str, Path]], Any]  # files by part -> StyleTransferNet in eval mode


@dataclass(frozen=True)
class Release:
    """One peer's released model.

    Attributes:
        method: registry name ("adain", "sanet", "adaattn", "adaconv", "stytr2").
        parts: CLI part -> the peer's released file name, e.g. ``{"vgg": "vgg_normalised.pth"}``.
        source: the peer's repository / release page.
        build: files by part -> network holding the peer's weights, in eval mode.
        folder_layout: part -> file name inside a release folder (``--folder``), if any.
    """

    method: str
    parts: dict[str, str]
    source: str
    build: BuildFn = field(compare=False)
    folder_layout: dict[str, str] | None = None


RELEASES: dict[str, Release] = {}
_loaded = False


def _load_all() -> None:
    """Import every per-method module once (each registers itself)."""
    global _loaded
    if _loaded:
        return
    for name in _MODULES:
        module = f"{__name__}.{name}"
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a method whose module is not there (yet)
            if exc.name != module:
                raise
    _loaded = True


def register_release(
    method: str, *, parts: dict[str, str], source: str, folder_layout: dict[str, str] | None = None
) -> Callable[[BuildFn], BuildFn]:
    """Decorator on a per-method ``build(files) -> net`` that registers its :class:`Release`."""

    def decorator(build: BuildFn) -> BuildFn:
        RELEASES[method] = Release(method, dict(parts), source, build, None if folder_layout is None else dict(folder_layout))
        return build

    return decorator


def construct(cls: Callable[..., Any], **kwargs: Any) -> Any:
    """``cls(**kwargs)`` without loading any encoder weights (the peer's files fill them), in
    eval mode; ``build`` functions use it so importing needs no cached VGG file."""
    from stylekernel.nn.encoder import weights_from_checkpoint

    with weights_from_checkpoint():
        return cls(**kwargs).eval()


def releases() -> dict[str, Release]:
    """Every registered release, by method name."""
    _load_all()
    return RELEASES


def get_release(method: str) -> Release:
    """The release of ``method``; :class:`ConfigError` naming the known ones otherwise."""
    _load_all()
    if method not in RELEASES:
        raise ConfigError(f"no released model for method {method!r}; known: {', '.join(sorted(RELEASES))}")
    return RELEASES[method]


class _Inert:
    """Stands for every class or function a file names outside the tensor allowlist: creating,
    calling or filling it does nothing, so no code from the file runs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def append(self, value: Any) -> None:
        pass

    def extend(self, values: Any) -> None:
        pass


_TENSOR_GLOBALS = {
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch", "Size"),
}


class _InertUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds tensors and plain containers and replaces every other global
    (Lightning callback classes used as dict keys, ``AttributeDict`` hyper-parameters, numpy
    scalars, ...) by :class:`_Inert`: as safe as ``weights_only``, for files that name classes."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _TENSOR_GLOBALS or (module == "torch" and isinstance(getattr(torch, name, None), torch.dtype)):
            return super().find_class(module, name)
        return _Inert


_inert_pickle = types.SimpleNamespace(__name__="stylekernel_inert_pickle", Unpickler=_InertUnpickler, load=lambda f, **kw: _InertUnpickler(f, **kw).load())


def read_peer_file(path: Path, part: str, *, foreign_objects: bool = False) -> dict[str, Any]:
    """Load a peer's file safely (``weights_only=True``, zip or legacy format) on the CPU.

    Returns the top-level dict as stored (a state dict, or a Lightning checkpoint whose
    ``state_dict`` the caller unwraps). ``foreign_objects=True`` (Lightning checkpoints of old
    versions, which name callback classes): when ``weights_only`` refuses a global, read again
    with an unpickler that rebuilds only tensors and replaces every other class by an inert
    placeholder (nothing from the file is executed). Raises :class:`ReleaseImportError` naming
    ``path`` and ``part`` if the file is missing, empty, truncated, not loadable safely or not a dict.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise ReleaseImportError(f"{p} ({part}): file does not exist")
    if not p.is_file():
        raise ReleaseImportError(f"{p} ({part}): not a file")
    if p.stat().st_size == 0:
        raise ReleaseImportError(f"{p} ({part}): file is empty (0 bytes)")
    try:
        try:
            obj = torch.load(p, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            if not (foreign_objects and "global" in str(exc).lower()):
                raise
            obj = torch.load(p, map_location="cpu", weights_only=False, pickle_module=_inert_pickle)  # type: ignore[arg-type]
    except Exception as exc:  # zip / pickle / truncation / weights_only errors: all "not this file"
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()  # torch colours parts of its messages
        first = text.splitlines()[0][:200] if text else type(exc).__name__
        raise ReleaseImportError(f"{p} ({part}): not a readable weight file ({type(exc).__name__}: {first})") from None
    if not isinstance(obj, Mapping) or not all(isinstance(k, str) for k in obj):
        raise ReleaseImportError(f"{p} ({part}): holds a {type(obj).__name__}, not a state dict")
    return dict(obj)


Shape = tuple[int, ...]


def check_layout(state: Mapping[str, Any], layout: Mapping[str, Shape], *, path: Path, part: str, expected: str | None = None) -> None:
    """``state`` must have exactly the keys of ``layout``, each a tensor of that shape.

    Raises :class:`ReleaseImportError` ``"{path} ({part}): ... first mismatched key ..."``
    (keys in ``layout`` order first, then the first unexpected one); ``expected`` (e.g. the
    peer's file name) is added as a hint.
    """
    hint = f" (expected the peer's {expected})" if expected else ""
    for key, shape in layout.items():
        if key not in state:
            raise ReleaseImportError(f"{path} ({part}): missing key {key!r}{hint}")
        value = state[key]
        if not isinstance(value, Tensor):
            raise ReleaseImportError(f"{path} ({part}): key {key!r} holds a {type(value).__name__}, not a tensor{hint}")
        if tuple(value.shape) != tuple(shape):
            raise ReleaseImportError(f"{path} ({part}): key {key!r} has shape {tuple(value.shape)}, expected {tuple(shape)}{hint}")
    for key in state:
        if key not in layout:
            raise ReleaseImportError(f"{path} ({part}): unexpected key {key!r}{hint}")


def load_exact(module: nn.Module, state: Mapping[str, Any], *, path: Path, part: str, expected: str | None = None) -> None:
    """Load ``state`` into ``module`` requiring the same key set and the same shapes (strict),
    else :class:`ReleaseImportError` naming ``path``, ``part`` and the first mismatched key."""
    load_mapped(module, state, path=path, part=part, expected=expected)


def load_mapped(
    module: nn.Module,
    state: Mapping[str, Any],
    *,
    path: Path,
    part: str,
    to_peer: Callable[[str], str] = lambda key: key,
    layout: Mapping[str, Shape] | None = None,
    expected: str | None = None,
) -> None:
    """Load a peer's ``state`` (the peer's key names) into ``module`` (the suite's names).

    ``to_peer`` maps each of ``module``'s state-dict keys to the peer's key. ``layout`` is the
    peer file's full key -> shape table when the file holds more than the module uses (e.g.
    ``vgg_normalised.pth`` goes to relu5_4, the encoder stops at relu5_1); by default it is the
    module's own layout under the peer's names. The file must match ``layout`` exactly
    (:func:`check_layout`, errors name the peer's keys); then every module key is loaded.
    """
    own = module.state_dict()
    mapped = {k: to_peer(k) for k in own}
    table = {mapped[k]: tuple(v.shape) for k, v in own.items()} if layout is None else dict(layout)
    for k, peer_key in mapped.items():  # a programming error, not a user's: the mapping must fit the layout
        if table.get(peer_key) != tuple(own[k].shape):
            raise AssertionError(f"{part}: {k} -> {peer_key} does not fit the peer layout")
    check_layout(state, table, path=path, part=part, expected=expected)
    module.load_state_dict({k: state[peer_key] for k, peer_key in mapped.items()}, strict=True)


def resolve_files(method: str, files: Mapping[str, os.PathLike[str] | str | None], folder: os.PathLike[str] | str | None = None) -> dict[str, Path]:
    """Files by part from explicit paths and/or a release folder (``Release.folder_layout``).

    Explicit paths win; a part still missing is a :class:`ConfigError` naming its CLI flag.
    """
    release = get_release(method)
    unknown = sorted(set(k for k, v in files.items() if v is not None) - set(release.parts))
    if unknown:
        raise ConfigError(f"{method}: unknown part(s) {unknown}; parts are {sorted(release.parts)}")
    out = {k: Path(v).expanduser() for k, v in files.items() if v is not None}
    if folder is not None:
        if release.folder_layout is None:
            raise ConfigError(f"{method}: --folder is not supported; give {' '.join('--' + p for p in release.parts)}")
        root = Path(folder).expanduser()
        if not root.is_dir():
            raise ConfigError(f"{method}: release folder {root} is not a directory")
        for part, name in release.folder_layout.items():
            out.setdefault(part, root / name)
    missing = [p for p in release.parts if p not in out]
    if missing:
        flags = ", ".join(f"--{p} ({release.parts[p]})" for p in missing)
        raise ConfigError(f"{method}: missing {flags}")
    return out


def import_release(method: str, files: Mapping[str, os.PathLike[str] | str], output: os.PathLike[str] | str) -> Path:
    """Build ``method``'s network from the peer's ``files`` (part -> path) and write a suite
    checkpoint to ``output`` atomically (:func:`stylekernel.atomic.atomic_write`).

    The checkpoint holds ``state_dict`` (``net.`` + key) and the ``stylekernel`` record
    (version, the network's ``init_config()``, ``encoder_source = "released:<method>"``, and
    ``release``: method, source and each file's name and sha256). It has no optimiser or loop
    state. Nothing is written on any error.
    """
    from stylekernel import __version__
    from stylekernel.weights import sha256_file

    release = get_release(method)
    paths = resolve_files(method, dict(files))
    out = Path(output).expanduser()
    if out.is_dir():
        raise ConfigError(f"--output {out} is a directory; give a file name such as {out / (method + '.ckpt')}")
    if not out.parent.is_dir():
        raise ConfigError(f"--output {out}: directory {out.parent} does not exist")
    net = release.build(paths)
    record = {
        "version": __version__,
        "net": net.init_config(),
        "encoder_source": f"released:{method}",
        "release": {
            "method": method,
            "source": release.source,
            "files": {part: {"name": p.name, "sha256": sha256_file(p)} for part, p in paths.items()},
        },
    }
    ckpt = {"state_dict": {f"net.{k}": v.detach().clone() for k, v in net.state_dict().items()}, "stylekernel": record}
    with atomic_write(out) as tmp:
        torch.save(ckpt, tmp)
    return out


__all__ = [
    "RELEASES",
    "Release",
    "construct",
    "ReleaseImportError",
    "get_release",
    "import_release",
    "check_layout",
    "load_exact",
    "load_mapped",
    "read_peer_file",
    "register_release",
    "releases",
    "resolve_files",
]
