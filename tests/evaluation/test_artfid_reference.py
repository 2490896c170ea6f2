"""Agreement with the ArtFID reference implementation (the ``art-fid`` package on PyPI).

Runs when ``art_fid`` is importable (it pins numpy<2 in its metadata; install it with
``pip install scikit-learn && pip install --no-deps art-fid==0.0.2``, see evaluation/README.md). Both sides use
the same fake checkpoint files and the same PNG files; FID, LPIPS and ArtFID of the defaults
(``fid_sqrtm: reference``) must agree to 1e-6 relative; FID_inf to 1e-4 (the reference's unseeded
shuffle seeded through numpy's global RNG, its distance function swapped for our exact one, see the
test).
"""

from __future__ import annotations

import functools
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stylekernel import weights as weight_files

from stylekernel_eval.protocol import EvalConfig
from stylekernel_eval.runner import evaluate

art_fid = pytest.importorskip("art_fid.art_fid", reason="art-fid (the reference) is not installed")

N = 40  # FID with fewer images than dimensions: the tip says ~40+ keeps the reference's sqrtm real


def _folders(tmp_path: Path, write_images: Any, n: int, size: tuple[int, int] = (80, 80),
             style_size: tuple[int, int] = (80, 80)) -> dict[str, Path]:
    names = [f"img{i:03d}.png" for i in range(n)]
    return {
        "stylized": write_images(tmp_path / "stylized", names, seed=1, size=size)[0].parent,
        "content": write_images(tmp_path / "content", names, seed=2, size=size)[0].parent,
        "style": write_images(tmp_path / "style", names, seed=3, size=style_size)[0].parent,
    }


@pytest.fixture
def folders(tmp_path: Path, image_writer: Any) -> dict[str, Path]:
    # the sizes of test_reference_commands.py: the 80 x 80 sets sit at the edge of the reference's own sqrtm
    # (scipy 1.17.1): it raised "Imaginary component 4148" in one run and computed in others (2026-12-02), see
    # test_reference_commands.py::test_default_command_at_the_edge_of_the_references_sqrtm
    return _folders(tmp_path, image_writer, N, size=(80, 88), style_size=(88, 80))


@pytest.fixture
def reference(eval_weights: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The reference module, reading our fake art Inception file instead of downloading it."""
    ckpt = weight_files.path_for("art_inception")
    monkeypatch.setattr(art_fid.utils, "download", lambda url, ckpt_dir=None: str(ckpt))
    return art_fid


def _ours(folders: dict[str, Path], out: Path, **overrides: Any) -> dict[str, Any]:
    config = EvalConfig(stylized_dir=str(folders["stylized"]), content_dir=str(folders["content"]),
                        style_dir=str(folders["style"]), pairing="sorted", size=None, output=str(out),
                        loss_encoder="random", progress=False, **overrides)
    return evaluate(config)["metrics"]


@pytest.mark.slow
def test_fid_lpips_artfid_agree_with_reference(reference: Any, folders: dict[str, Path], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, float] = {}
    for name in ("compute_fid", "compute_content_distance"):
        original = getattr(reference, name)

        def spy(*args: Any, _f: Any = original, _n: str = name, **kwargs: Any) -> Any:
            result = _f(*args, **kwargs)
            seen[_n] = float(result)
            return result

        monkeypatch.setattr(reference, name, spy)
    ref_art = reference.compute_art_fid(str(folders["stylized"]), str(folders["style"]), str(folders["content"]),
                                        batch_size=16, device="cpu", mode="art_fid", num_workers=0)
    ours = _ours(folders, tmp_path / "out")
    assert ours["fid"]["sqrtm"] == "reference"  # the default
    assert ours["fid"]["value"] == pytest.approx(seen["compute_fid"], rel=1e-6)
    assert ours["lpips"]["value"] == pytest.approx(seen["compute_content_distance"], rel=1e-6)
    assert ours["art_fid"]["value"] == pytest.approx(ref_art, rel=1e-6)
    assert ours["fid"]["n_stylized"] == ours["fid"]["n_style"] == N


@pytest.mark.slow
def test_fid_infinity_agrees_with_reference(reference: Any, image_writer: Any, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # The reference's sqrtm returns imaginary parts on subsets of a few dozen 2048-d features (it
    # needs thousands), so its distance function is swapped for ours here; the distance itself is
    # checked against the reference in the test above. What this test checks against the reference
    # is everything else: features, pairing, subset sizes, seeded subsets and the line fit.
    from stylekernel_eval.metrics.fid import frechet_distance

    monkeypatch.setattr(reference, "compute_frechet_distance", functools.partial(frechet_distance, sqrtm="exact"))
    n, min_size, points, seed = 40, 30, 3, 5
    folders = _folders(tmp_path, image_writer, n)
    proxy = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
    proxy.linspace = lambda start, stop, num: np.linspace(min_size, stop, num)  # the reference fixes start=5000
    monkeypatch.setattr(reference, "np", proxy)
    # The reference pairs stylized and style activations in directory-listing (glob) order, which
    # is file-system dependent; ours pairs by sorted name. Sorting its listing makes them comparable.
    listing = reference.get_image_paths
    monkeypatch.setattr(reference, "get_image_paths", lambda path, sort=False: listing(path, sort=True))
    np.random.seed(seed)
    ref = reference.compute_fid_infinity(str(folders["stylized"]), str(folders["style"]), 16, "cpu",
                                         num_points=points, num_workers=0)
    ours = _ours(folders, tmp_path / "out", fid_variant="fid_inf", style_set="per_pair", fid_inf_min_size=min_size,
                 fid_inf_points=points, seed=seed, ssim=False, fid_sqrtm="exact")  # as the swapped-in distance
    assert ours["fid_inf"]["value"] == pytest.approx(float(ref), rel=1e-4)
    assert ours["fid_inf"]["subset_sizes"] == [min_size, 35, n]
