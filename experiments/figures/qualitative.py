"""The paper's qualitative comparison: a content x style grid per method, from checkpoints.

::

    python experiments/figures/qualitative.py --output figures/ \\
        --checkpoint stylekernel=runs/paper_table/methods/stylekernel/train/logs/version_0/checkpoints/last.ckpt \\
        --checkpoint adain=... --content-dir coco_test --style-dir wikiart_test --num-content 4 --num-style 4

    # every checkpoint of a paper_table run (reads its manifest.json)
    python experiments/figures/qualitative.py --from-paper-table runs/paper_table --content-dir C --style-dir S

For each method, ``<output>/<method>.png``: the first row shows the style images, the first
column the content images, cell (i, j) content i stylized with style j. ``comparison.png``
stacks one row per (content, style) pair: content, style, then each method's result, the
layout of the paper's comparison figure. Images are resized (shorter side, antialiased
bicubic) and centre-cropped to ``--size`` (a multiple of every network's stride), and stylized
with ``stylekernel.inference.Stylizer`` (no tiling). ``grid.json`` records the checkpoints,
their SHA-256 and the image files used.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import torch
from PIL import Image, ImageDraw

from stylekernel.checkpoint import load_net
from stylekernel.image_files import scan_images
from stylekernel.inference import Stylizer
from stylekernel.weights import sha256_file


def _images(folder: Path, n: int) -> list[Path]:
    files, _ = scan_images(folder)
    if not files:
        raise SystemExit(f"no images in {folder}")
    return files[:n]


def load_square(path: Path, size: int) -> Image.Image:
    """Shorter side to ``size`` (bicubic, antialiased), centre crop ``size`` x ``size``."""
    img = Image.open(path).convert("RGB")
    w, h = img.size
    scale = size / min(w, h)
    img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BICUBIC)
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    return img.crop((left, top, left + size, top + size))


def _label(img: Image.Image, text: str) -> Image.Image:
    out = img.copy()
    draw = ImageDraw.Draw(out)
    draw.rectangle([0, 0, min(out.width, 7 * len(text) + 6), 13], fill=(255, 255, 255))
    draw.text((3, 1), text, fill=(0, 0, 0))
    return out


def _paste(cells: list[list[Image.Image | None]], size: int, pad: int = 4) -> Image.Image:
    rows, cols = len(cells), max(len(r) for r in cells)
    canvas = Image.new("RGB", (cols * size + (cols + 1) * pad, rows * size + (rows + 1) * pad), (255, 255, 255))
    for i, row in enumerate(cells):
        for j, cell in enumerate(row):
            if cell is not None:
                canvas.paste(cell, (pad + j * (size + pad), pad + i * (size + pad)))
    return canvas


def render(checkpoints: dict[str, Path], content_dir: Path, style_dir: Path, output: Path, *, size: int = 256,
           num_content: int = 4, num_style: int = 4, device: str = "cpu", labels: bool = True) -> dict[str, Path]:
    """Write one grid PNG per method and ``comparison.png``; returns name -> path."""
    output.mkdir(parents=True, exist_ok=True)
    c_files, s_files = _images(content_dir, num_content), _images(style_dir, num_style)
    contents = [load_square(p, size) for p in c_files]
    styles = [load_square(p, size) for p in s_files]
    results: dict[str, list[list[Image.Image]]] = {}
    record: dict[str, object] = {"size": size, "content": [str(p) for p in c_files], "style": [str(p) for p in s_files],
                                 "checkpoints": {}}
    written: dict[str, Path] = {}
    for name, ckpt in checkpoints.items():
        net = load_net(ckpt)
        if size % net.stride:
            raise SystemExit(f"--size {size} is not a multiple of {name}'s stride {net.stride}")
        stylizer = Stylizer(net, device=device, style_size=None, tile_size=None)
        with torch.inference_mode():
            grid = [[stylizer.stylize(c, s) for s in styles] for c in contents]
        results[name] = grid
        cells: list[list[Image.Image | None]] = [[None, *styles]]
        cells += [[c, *row] for c, row in zip(contents, grid)]
        path = output / f"{name}.png"
        img = _paste(cells, size)
        if labels:
            img = _label(img, name)
        img.save(path)
        written[name] = path
        record["checkpoints"][name] = {"path": str(ckpt), "sha256": sha256_file(Path(ckpt))}  # type: ignore[index]
    # the paper's layout: one row per pair, content | style | method 1 | method 2 ...
    rows = []
    for k in range(min(len(contents), len(styles))):
        rows.append([contents[k], styles[k], *(results[n][k][k] for n in checkpoints)])
    header = [_label(Image.new("RGB", (size, size), (255, 255, 255)), t) for t in ("content", "style", *checkpoints)]
    comparison = _paste([header, *rows] if labels else rows, size)
    written["comparison"] = output / "comparison.png"
    comparison.save(written["comparison"])
    (output / "grid.json").write_text(json.dumps(record, indent=2) + "\n")
    return written


def checkpoints_from_paper_table(run_dir: Path) -> dict[str, Path]:
    """Method -> checkpoint of a ``experiments/paper_table/run.py`` output folder (its params.json files)."""
    manifest = json.loads((run_dir / "manifest.json").read_text())
    out: dict[str, Path] = {}
    for table in manifest["tables"]:
        if table["stem"] != "paper_table":
            continue
        for col in table["columns"]:
            out[col["name"]] = Path(json.loads((run_dir / col["params"]).read_text())["checkpoint"])
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="content x style grids per method (qualitative comparison)")
    p.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH", help="repeatable")
    p.add_argument("--from-paper-table", type=Path, help="take the checkpoints of a paper_table run folder")
    p.add_argument("--content-dir", type=Path, required=True)
    p.add_argument("--style-dir", type=Path, required=True)
    p.add_argument("--output", type=Path, default=Path("figures"))
    p.add_argument("--size", type=int, default=256, help="square side of every image (multiple of the strides)")
    p.add_argument("--num-content", type=int, default=4)
    p.add_argument("--num-style", type=int, default=4)
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-labels", action="store_true")
    args = p.parse_args(argv)
    checkpoints: dict[str, Path] = {}
    if args.from_paper_table is not None:
        checkpoints.update(checkpoints_from_paper_table(args.from_paper_table))
    for item in args.checkpoint:
        name, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"--checkpoint wants NAME=PATH, got {item!r}")
        checkpoints[name] = Path(path)
    if not checkpoints:
        raise SystemExit("give --checkpoint NAME=PATH (repeatable) or --from-paper-table DIR")
    written = render(checkpoints, args.content_dir, args.style_dir, args.output, size=args.size,
                     num_content=args.num_content, num_style=args.num_style, device=args.device,
                     labels=not args.no_labels)
    for name, path in written.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
