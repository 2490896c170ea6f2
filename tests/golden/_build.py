"""Inputs and commands of the golden-output test (issue 11, item 5), and the writer of its files.

The golden files in ``tests/golden/data/`` were written by the code of commit 9f2ffa0 (before the
image-file module and the stylization engine were merged into one home). The test runs the same
documented commands on the same seeded inputs and asserts the outputs are bit-identical.

Regenerate (only when an output change is intended, and say so in the commit)::

    python tests/golden/_build.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

DATA = Path(__file__).parent / "data"

#: (name, extra stylize arguments) of the single-image stylize runs.
STYLIZE_CASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("default", ()),
    ("alpha_luminance", ("--alpha", "0.6", "--preserve-color", "luminance")),
    ("histogram_style_size", ("--preserve-color", "histogram", "--style-size", "40")),
    ("tiled", ("--tile-size", "64")),
)
#: summary.json keys that describe the run, not its results (paths, times, versions).
VOLATILE = ("time", "date", "path", "dir", "output", "version", "host", "seconds", "checkpoint", "fingerprint", "git", "wall", "elapsed")


def _image(rng: np.random.Generator, height: int, width: int) -> Image.Image:
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    chans = [0.5 + 0.35 * np.sin(2 * np.pi * (rng.uniform(1, 6) * xx + rng.uniform(1, 6) * yy) + rng.uniform(0, 6.3)) for _ in range(3)]
    img = np.stack(chans, -1) + rng.normal(0, 0.08, size=(height, width, 3))
    return Image.fromarray((np.clip(img, 0, 1) * 255).round().astype(np.uint8))


def write_inputs(root: Path) -> dict[str, Path]:
    """Seeded content/style PNGs, a checkpoint of a seeded network and fake weight files."""
    rng = np.random.default_rng(11)
    content, style = root / "content", root / "style"
    content.mkdir(parents=True)
    style.mkdir(parents=True)
    for i, (h, w) in enumerate([(80, 96), (88, 80)]):
        _image(rng, h, w).save(content / f"photo{i}.png")
    for i, (h, w) in enumerate([(96, 88), (80, 80)]):
        _image(rng, h, w).save(style / f"paint{i}.png")
    _image(rng, 150, 130).save(root / "big.png")
    return {"content": content, "style": style, "big": root / "big.png", "checkpoint": _checkpoint(root / "net.ckpt"),
            "cache": _fake_weights(root / "cache")}


def _checkpoint(path: Path) -> Path:
    import lightning as L

    from stylekernel.module import StyleTransferModule
    from stylekernel.nn.style_kernel_net import StyleKernelNet

    torch.manual_seed(0)
    net = StyleKernelNet(encoder_weights="random", groups=16, kernel_hidden_channels=32, gate_hidden_channels=16)
    with torch.no_grad():  # visible contrast: outputs around 0.5, not all clamped
        last = [m for m in net.decoder.body if isinstance(m, torch.nn.Conv2d)][-1]
        h = net.transform(net.encode(torch.rand(1, 3, 64, 64)), net.encode(torch.rand(1, 3, 64, 64)))
        for layer in net.decoder.body:
            if layer is last:
                break
            h = layer(h)
        out = last(h)
        last.weight.mul_(0.15 / out.std())
        last.bias.add_(0.5 - last(h).mean(dim=(0, 2, 3)))
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.strategy.connect(StyleTransferModule(net.eval()))
    trainer.save_checkpoint(path)
    return path


def _fake_weights(cache: Path) -> Path:
    """Random files in the real layouts under the registry's names (seeded as the evaluation tests')."""
    import torchvision
    from torch import nn

    from stylekernel import weights as weight_files
    from stylekernel_eval.inception import ArtInception

    hub = cache / "torch-home" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.manual_seed(1)
    files = {"alexnet": torchvision.models.alexnet(weights=None).state_dict()}
    torch.manual_seed(4)
    files["vgg19"] = {f"features.{k}": v for k, v in torchvision.models.vgg19(weights=None).features.state_dict().items()}
    torch.manual_seed(2)
    model = ArtInception()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None
    nn.Module.train(model, True)
    with torch.no_grad():
        for _ in range(2):
            model(torch.rand(6, 3, 80, 80))
    files["art_inception"] = model.state_dict()
    for name, state in files.items():
        filename = weight_files.spec(name).filename
        torch.save(state, cache / filename)
        os.link(cache / filename, hub / filename)
    return cache


def env(cache: Path) -> dict[str, str]:
    e = dict(os.environ, STYLEKERNEL_CACHE=str(cache), TORCH_HOME=str(cache / "torch-home"), STYLEKERNEL_OFFLINE="1",
             OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    return e


def stylekernel(*args: str, cache: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "stylekernel.cli", *args], env=env(cache), capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise AssertionError(f"stylekernel {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def run_all(inputs: dict[str, Path], out: Path) -> None:
    """Every golden command, outputs under ``out``."""
    c, s, ckpt, cache = inputs["content"], inputs["style"], str(inputs["checkpoint"]), inputs["cache"]
    common = ("--checkpoint", ckpt, "--quiet")
    for name, extra in STYLIZE_CASES:
        stylekernel("stylize", *common, "--content", str(c / "photo0.png"), "--style", str(s / "paint0.png"), "--output", str(out / f"stylize_{name}.png"), *extra, cache=cache)
    stylekernel("stylize", *common, "--content", str(inputs["big"]), "--style", str(s / "paint1.png"), "--output", str(out / "stylize_big_tiled.png"), "--tile-size", "64", cache=cache)
    stylekernel("stylize", *common, "--content", str(c / "photo1.png"), "--style", str(s / "paint0.png"), "--style", str(s / "paint1.png"), "--style-weights", "0.7", "0.3",
                "--output", str(out / "stylize_blend.png"), cache=cache)
    stylekernel("stylize", *common, "--content", str(c), "--style", str(s), "--output", str(out / "stylize_folder"), cache=cache)
    # --fid-sqrtm exact: the golden FID values were computed with the exact square root (the default before issue 10)
    ev = ("--no-timing", "--no-progress", "--fid-sqrtm", "exact")
    stylekernel("evaluate", "--checkpoint", ckpt, "--content-dir", str(c), "--style-dir", str(s), "--output", str(out / "eval_checkpoint"), "--save-images", *ev, cache=cache)
    stylekernel("evaluate", "--stylized-dir", str(out / "stylize_folder"), "--content-dir", str(c), "--style-dir", str(s), "--output", str(out / "eval_stylized_dir"), *ev, cache=cache)


def results(summary: object) -> object:
    """The summary without the keys that describe the run rather than its results."""
    if isinstance(summary, dict):
        return {k: results(v) for k, v in summary.items() if not any(t in k.lower() for t in VOLATILE)}
    if isinstance(summary, list):
        return [results(v) for v in summary]
    return summary


def collect(out: Path) -> dict[str, object]:
    """{relative path: pixels (uint8 array) | parsed report} of every output under ``out``."""
    found: dict[str, object] = {}
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).as_posix()
        if p.suffix == ".png":
            with Image.open(p) as im:
                found[rel] = np.asarray(im.convert("RGBA" if "A" in im.getbands() else "RGB"))
        elif p.name == "summary.json":
            found[rel] = results(json.loads(p.read_text()))
        elif p.name == "per_pair.csv":
            found[rel] = p.read_text()
    return found


if __name__ == "__main__":
    import shutil
    import tempfile

    sys.path[:0] = [str(Path(__file__).parents[2] / "src"), str(Path(__file__).parents[2] / "evaluation")]
    with tempfile.TemporaryDirectory() as tmp:
        inputs = write_inputs(Path(tmp) / "in")
        if DATA.exists():
            shutil.rmtree(DATA)
        run_all(inputs, DATA)
    for p in sorted(DATA.rglob("*")):
        if p.is_file() and p.suffix not in (".png", ".csv") and p.name != "summary.json":
            p.unlink()
    print("\n".join(sorted(p.relative_to(DATA).as_posix() for p in DATA.rglob("*") if p.is_file())))
