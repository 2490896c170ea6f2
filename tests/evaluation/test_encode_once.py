"""Each content and style image is decoded and encoded once per run; the scores equal a naive per-pair loop."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch

from stylekernel.engine import StylizationEngine
from stylekernel.inference import Stylizer

from stylekernel_eval import images, scoring
from stylekernel_eval.metrics.lpips import lpips_scores
from stylekernel_eval.metrics.perceptual_losses import perceptual_scores
from stylekernel_eval.metrics.ssim import ssim_scores
from stylekernel_eval.pairing import list_images
from stylekernel_eval.protocol import EvalConfig
from stylekernel_eval.runner import evaluate

SCORES = ("lpips", "content_loss", "style_loss", "gram_loss", "ssim")


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "per_pair.csv") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, Counter]:
    """Counts of decodes per file name and of network encodings (images per call)."""
    counts: dict[str, Counter] = {"decode": Counter(), "encode": Counter()}
    load = images.load_tensor

    def counting_load(path: Path, **kwargs: Any) -> Any:
        counts["decode"][path.name] += 1
        return load(path, **kwargs)

    monkeypatch.setattr(images, "load_tensor", counting_load)
    for side in ("content", "style"):
        name = f"encode_{side}_batch"
        original = getattr(StylizationEngine, name)

        def counting(self: StylizationEngine, x: torch.Tensor, _f: Any = original, _s: str = side) -> Any:
            counts["encode"][_s] += x.shape[0]
            return _f(self, x)

        monkeypatch.setattr(StylizationEngine, name, counting)
    return counts


def _naive_rows(config: EvalConfig, net: Any) -> list[dict[str, float]]:
    """Today's per-pair loop, written out: decode both images, stylize the pair with the Stylizer engine
    (``stylize_tensor``), round to 8 bits, score with the full metric functions."""
    torch.manual_seed(config.seed)
    metrics = scoring.build_metrics(config, None, torch.device("cpu"), True)
    stylizer = Stylizer(net, style_size=None, feature_cache_bytes=0)
    rows = []
    for c_path in list_images(config.content_dir):  # type: ignore[arg-type]
        for s_path in list_images(config.style_dir):  # type: ignore[arg-type]
            c = images.load_tensor(c_path, size=config.size)[0][None]
            s = images.load_tensor(s_path, size=config.size)[0][None]
            x = images.quantize(stylizer.stylize_tensor(c, [s]))
            row = {"lpips": float(lpips_scores(metrics["art_fid"].lpips.model, x, c)[0]),
                   "ssim": float(ssim_scores(x, c)[0])}
            row.update({k: float(v[0]) for k, v in perceptual_scores(metrics["losses"].encoder, x, c, s, gram=True).items()})
            rows.append(row)
    return rows


def test_each_image_encoded_once_and_scores_equal_the_per_pair_loop(eval_weights: Path, image_dirs: tuple[Path, Path],
                                                                    tiny_net: Any, tmp_path: Path,
                                                                    counted: dict[str, Counter]) -> None:
    content, style = image_dirs  # 3 x 3 pairs; content 96 x 112, style 104 x 96, as stored (the default)
    config = EvalConfig(content_dir=str(content), style_dir=str(style), output=str(tmp_path / "o"), batch_size=2,
                        loss_encoder="random", gram=True, progress=False, fid_sqrtm="exact")
    summary = evaluate(config, net=tiny_net)
    assert counted["decode"] == Counter({f"{k}{i}.png": 1 for k in "cs" for i in range(3)})
    assert counted["encode"] == Counter({"content": 3, "style": 3})
    got = _rows(tmp_path / "o")
    counted["decode"].clear()
    want = _naive_rows(config, tiny_net)
    for g, w in zip(got, want, strict=True):
        for name in SCORES:
            assert float(g[name]) == pytest.approx(w[name], rel=1e-5, abs=1e-7), (g["stylized"], name)
    # every image as stored; the one difference from the reference is the (requested) exact square root
    assert summary["resizing"]["reference_exact"] is False
    (only,) = summary["resizing"]["differences"]
    assert only.startswith("FID square root: exact, not art-fid's scipy sqrtm")


def test_bounded_memory_gives_the_same_scores(eval_weights: Path, image_dirs: tuple[Path, Path], tiny_net: Any,
                                              tmp_path: Path, counted: dict[str, Counter]) -> None:
    content, style = image_dirs
    common = dict(content_dir=str(content), style_dir=str(style), batch_size=2, loss_encoder="random", gram=True,
                  progress=False, size=80, fid_sqrtm="exact")
    full = evaluate(EvalConfig(output=str(tmp_path / "full"), **common), net=tiny_net)
    counted["decode"].clear()
    small = evaluate(EvalConfig(output=str(tmp_path / "small"), feature_cache_mb=1e-6, **common), net=tiny_net)
    # one style per block: each style decoded once, each content once per block (3 blocks)
    assert counted["decode"] == Counter({**{f"s{i}.png": 1 for i in range(3)}, **{f"c{i}.png": 3 for i in range(3)}})
    for a, b in zip(_rows(tmp_path / "full"), _rows(tmp_path / "small"), strict=True):
        assert a["stylized"] == b["stylized"]
        for name in SCORES:
            assert float(b[name]) == pytest.approx(float(a[name]), rel=1e-5, abs=1e-7), name
    for name, entry in full["metrics"].items():
        assert small["metrics"][name]["value"] == pytest.approx(entry["value"], rel=1e-5), name
    r = full["resizing"]
    assert r["reference_exact"] is False and r["content"]["changed"] == r["style"]["changed"] == 3
    assert r["content"]["files"]["c0.png"] == {"stored_hw": [96, 112], "used_hw": [80, 80]}


def test_mixed_size_stylized_set(eval_weights: Path, image_writer: Any, tmp_path: Path,
                                 counted: dict[str, Counter]) -> None:
    content = image_writer(tmp_path / "c", ["a.png", "b.png"], seed=1, size=(80, 96))[0].parent
    style = image_writer(tmp_path / "s", ["x.png", "y.png"], seed=2, size=(80, 80))[0].parent
    x = tmp_path / "x"
    image_writer(x, ["a__x.png", "b__y.png"], seed=3, size=(80, 96))  # as the content
    image_writer(x, ["a__y.png", "b__x.png"], seed=4, size=(88, 88))  # another method's fixed size
    summary = evaluate(EvalConfig(stylized_dir=str(x), content_dir=str(content), style_dir=str(style),
                                  output=str(tmp_path / "o"), loss_encoder="random", progress=False, fid_sqrtm="exact"))
    assert summary["n_pairs"] == 4 and summary["metrics"]["fid"]["n_stylized"] == 4
    assert counted["decode"]["a.png"] == counted["decode"]["x.png"] == 1
    matched = summary["resizing"]["content_to_stylized"]
    assert matched["changed"] == 2 and matched["files"]["a.png"] == {"stored_hw": [80, 96], "used_hw": [88, 88]}
    assert summary["resizing"]["reference_exact"] is False
