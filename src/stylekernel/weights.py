"""Every pretrained file the suite uses: where it comes from, where it is cached, how it is loaded.

Cache directory: ``$STYLEKERNEL_CACHE`` if set, else torch hub's checkpoint directory
(``$TORCH_HOME/hub/checkpoints``, default ``~/.cache/torch/hub/checkpoints``), which is where
torchvision and ``lpips`` look too, so a file fetched once serves all of them.

Nothing is downloaded implicitly when ``STYLEKERNEL_OFFLINE=1`` (or ``HF_HUB_OFFLINE=1``) is set;
otherwise a missing file is downloaded once (atomically: a temporary file renamed into place) and
a failed download is one clear :class:`~stylekernel.errors.WeightsNotFoundError` naming the URL
and the prefetch command ``stylekernel weights download NAME``.
"""

from __future__ import annotations

import hashlib
import os
import socket
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stylekernel.atomic import atomic_write
from stylekernel.env import env_flag
from stylekernel.errors import CheckpointError, WeightsNotFoundError, exception_summary


@dataclass(frozen=True)
class WeightFile:
    """One downloadable weight file.

    ``sha256`` is the full digest where it is published; ``sha256_prefix`` is the prefix that
    torchvision encodes in its file names. Either is checked after a download, never on load
    (tests load small fake files written under the expected names).
    """

    name: str
    filename: str
    url: str
    used_by: str
    sha256: str | None = None
    sha256_prefix: str | None = None


REGISTRY: dict[str, WeightFile] = {
    w.name: w
    for w in [
        WeightFile(
            name="vgg19",
            filename="vgg19-dcbb9e9d.pth",
            url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
            sha256_prefix="dcbb9e9d",
            used_by="encoder (weights: torchvision), ImageNet VGG19",
        ),
        WeightFile(
            name="vgg_normalised",
            filename="vgg_normalised.pth",
            url="https://github.com/naoto0804/pytorch-AdaIN/releases/download/v0.0.0/vgg_normalised.pth",
            used_by="encoder (weights: vgg_normalised), the AdaIN/SANet/AdaAttN VGG19",
        ),
        WeightFile(
            name="alexnet",
            filename="alexnet-owt-7be5be79.pth",
            url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
            sha256_prefix="7be5be79",
            used_by="LPIPS (net=alex) backbone",
        ),
        WeightFile(
            name="vgg16",
            filename="vgg16-397923af.pth",
            url="https://download.pytorch.org/models/vgg16-397923af.pth",
            sha256_prefix="397923af",
            used_by="LPIPS (net=vgg) backbone",
        ),
        WeightFile(
            name="squeezenet1_1",
            filename="squeezenet1_1-b8a52dc0.pth",
            url="https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth",
            sha256_prefix="b8a52dc0",
            used_by="LPIPS (net=squeeze) backbone",
        ),
        WeightFile(
            name="art_inception",
            filename="art_inception.pth",
            url="https://huggingface.co/matthias-wright/art_inception/resolve/main/art_inception.pth",
            used_by="FID / ArtFID feature network (art-trained Inception-v3 of the ArtFID paper)",
        ),
    ]
}



# The peers' released models (``stylekernel weights import METHOD``): their file names and
# source pages live with each importer (``stylekernel.released``); this table adds the full
# SHA-256 of a file where it is published (method -> file name -> digest). None of the peers
# publishes one, so it is empty: an import records each file's digest in the checkpoint instead.
PEER_SHA256: dict[str, dict[str, str]] = {}


DOWNLOAD_TIMEOUT_S = 30.0


def cache_dir() -> Path:
    """The directory weight files are read from and downloaded to."""
    env = os.environ.get("STYLEKERNEL_CACHE")
    if env:
        return Path(env).expanduser()
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def offline() -> bool:
    """True when downloads are switched off by ``STYLEKERNEL_OFFLINE`` or ``HF_HUB_OFFLINE`` (:func:`stylekernel.env.env_flag`)."""
    return env_flag("STYLEKERNEL_OFFLINE", "HF_HUB_OFFLINE")


def spec(name: str) -> WeightFile:
    """The registry entry called ``name`` (a clear error listing the known names otherwise)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise WeightsNotFoundError(
            f"unknown weight file {name!r}; known: {', '.join(sorted(REGISTRY))}"
        ) from None


def path_for(name: str) -> Path:
    """Where the file ``name`` lives (or would live) in the cache."""
    return cache_dir() / spec(name).filename


def _missing_message(w: WeightFile, where: Path, why: str) -> str:
    return (
        f"weights '{w.name}' not found at {where} ({why}); run `stylekernel weights download "
        f"{w.name}` on a machine with network access, or download {w.url} to that path"
    )


OFFLINE_REASON = "offline mode: STYLEKERNEL_OFFLINE/HF_HUB_OFFLINE is set"


def download(name: str, *, force: bool = False, progress: bool = True) -> Path:
    """Download ``name`` into the cache (atomically) and verify its hash where one is known.

    A cached file is returned as it is (unless ``force``); in offline mode nothing is fetched
    (WeightsNotFoundError). Errors carry a short ``reason``.
    """
    w = spec(name)
    dst = path_for(name)
    if dst.is_file() and not force:
        return dst
    if offline():
        raise WeightsNotFoundError(_missing_message(w, dst, OFFLINE_REASON), reason=OFFLINE_REASON)
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_write(dst) as tmp:
            _fetch(w.url, tmp, progress=progress)
            digest = sha256_file(tmp)
            if w.sha256 and digest != w.sha256:
                why = f"sha256 {digest} != {w.sha256}"
                raise WeightsNotFoundError(f"weights '{w.name}' from {w.url}: {why}", reason=why)
            if w.sha256_prefix and not digest.startswith(w.sha256_prefix):
                why = f"sha256 {digest[:8]}... does not start with {w.sha256_prefix}"
                raise WeightsNotFoundError(f"weights '{w.name}' from {w.url}: {why}", reason=why)
    except WeightsNotFoundError:
        raise
    except (OSError, ValueError) as exc:  # URLError, socket timeouts, HTTP errors
        why = f"download failed: {exc}"
        raise WeightsNotFoundError(_missing_message(w, dst, why), reason=why) from None
    return dst


def _fetch(url: str, dst: Path, *, progress: bool) -> None:
    from tqdm.auto import tqdm

    request = urllib.request.Request(url, headers={"User-Agent": "stylekernel"})
    with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response, open(dst, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=dst.name, disable=not progress) as bar:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                bar.update(len(chunk))


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (weights, checkpoints)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def resolve(name: str) -> Path:
    """Path of the cached file ``name``, downloading it first unless offline."""
    w = spec(name)
    dst = path_for(name)
    if dst.is_file() or offline():
        return download(name)  # offline: the one WeightsNotFoundError of download()
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        return download(name)
    finally:
        socket.setdefaulttimeout(old)


def load_state_dict(name_or_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a state dict with ``weights_only=True`` from a registry name or a file path."""
    import torch

    text = os.fspath(name_or_path)
    path = resolve(text) if text in REGISTRY else Path(text).expanduser()
    if not path.is_file():
        raise WeightsNotFoundError(f"weight file {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, zip errors, truncated files
        raise CheckpointError(f"{path} is not a readable weight file ({type(exc).__name__}: {exception_summary(exc)})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a state dict")
    return state


def listing() -> list[dict[str, Any]]:
    """One row per registry entry: name, cached, size, path, url, used_by."""
    rows = []
    for w in REGISTRY.values():
        p = path_for(w.name)
        rows.append(
            {
                "name": w.name,
                "cached": p.is_file(),
                "size_mb": round(p.stat().st_size / 2**20, 1) if p.is_file() else None,
                "path": str(p),
                "url": w.url,
                "used_by": w.used_by,
            }
        )
    return rows



def peer_listing() -> list[dict[str, Any]]:
    """One row per peer release: method, source page, files (part -> the peer's file name),
    sha256 (file name -> digest, where known). The peers host their files on GitHub releases,
    Google Drive or Yandex.Disk; they are not downloaded here."""
    from stylekernel.released import releases

    return [
        {"method": r.method, "source": r.source, "files": dict(r.parts), "sha256": dict(PEER_SHA256.get(r.method, {}))}
        for r in sorted(releases().values(), key=lambda r: r.method)
    ]
