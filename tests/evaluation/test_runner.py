"""The runner: stylize and score, reports, re-scoring saved images, pairing rules and errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from stylekernel.errors import ConfigError

from stylekernel_eval.pairing import PairingError, pair_stylized_dir
from stylekernel_eval.protocol import EvalConfig
from stylekernel_eval.runner import evaluate

# fid_sqrtm exact: not about the FID default (reference: a 2048 x 2048 scipy sqrtm, seconds per FID)
COMMON: dict[str, Any] = dict(size=80, batch_size=4, loss_encoder="random", progress=False, gram=True, fid_sqrtm="exact")


def _read_rows(out: Path) -> list[dict[str, str]]:
    with open(out / "per_pair.csv") as f:
        return list(csv.DictReader(f))


def test_stylize_score_and_rescore_saved_images(eval_weights: Path, image_dirs: tuple[Path, Path], tiny_net: Any,
                                                tmp_path: Path) -> None:
    content, style = image_dirs
    out = tmp_path / "run"
    config = EvalConfig(content_dir=str(content), style_dir=str(style), output=str(out), save_images=True, **COMMON)
    summary = evaluate(config, net=tiny_net)

    rows = _read_rows(out)
    assert [int(r["index"]) for r in rows] == list(range(9))
    assert rows[4]["stylized"] == "c1__s1.png" and rows[4]["content"] == "c1.png" and rows[4]["style"] == "s1.png"
    m = summary["metrics"]
    assert set(m) >= {"lpips", "fid", "art_fid", "content_loss", "style_loss", "gram_loss", "ssim"}
    assert m["lpips"]["value"] == pytest.approx(sum(float(r["lpips"]) for r in rows) / 9, rel=1e-6)
    assert m["style_loss"]["value"] == pytest.approx(sum(float(r["style_loss"]) for r in rows) / 9, rel=1e-6)
    assert (m["fid"]["n_stylized"], m["fid"]["n_style"], m["fid"]["variant"]) == (9, 3, "FID")
    assert m["art_fid"]["value"] == pytest.approx((1 + m["lpips"]["value"]) * (1 + m["fid"]["value"]), rel=1e-12)
    assert m["art_fid"]["label"] == "ArtFID (plain FID)"
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["n_pairs"] == 9 and on_disk["config"]["size"] == 80
    assert set(on_disk["fingerprints"]) >= {"content", "style", "pairs"} and on_disk["versions"]["torch"]
    assert "seeds" in on_disk and "git" in on_disk and on_disk["cost_seconds"]["stylize"] > 0
    assert "ArtFID (plain FID)" in (out / "summary.md").read_text()
    assert len(list((out / "stylized").glob("*.png"))) == 9

    # the saved PNGs hold exactly what was scored (8-bit rounding before scoring)
    again = evaluate(EvalConfig(stylized_dir=str(out / "stylized"), content_dir=str(content), style_dir=str(style),
                                output=str(tmp_path / "rescore"), **COMMON))
    for name, entry in summary["metrics"].items():
        assert again["metrics"][name]["value"] == pytest.approx(entry["value"], rel=1e-5, abs=1e-7), name
    assert again["mode"] == "stylized_dir" and "stylized" in again["fingerprints"]


def test_pairs_file(eval_weights: Path, image_dirs: tuple[Path, Path], tiny_net: Any, tmp_path: Path) -> None:
    content, style = image_dirs
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("# content,style\nc0.png,s2.png\nc2.png, s0.png\n")
    config = EvalConfig(content_dir=str(content), style_dir=str(style), pairs_file=str(pairs), output=str(tmp_path / "o"),
                        ssim=False, **{**COMMON, "gram": False})
    summary = evaluate(config, net=tiny_net)
    rows = _read_rows(tmp_path / "o")
    assert [r["stylized"] for r in rows] == ["c0__s2.png", "c2__s0.png"]
    assert summary["metrics"]["fid"]["n_style"] == 2 and "ssim" not in summary["metrics"]


def test_name_pairing_rule(tmp_path: Path, image_writer: Any) -> None:
    content = image_writer(tmp_path / "c", ["a.png", "a__b.png"], seed=1)[0].parent
    style = image_writer(tmp_path / "s", ["x.jpg", "y.png"], seed=2)[0].parent
    x = image_writer(tmp_path / "x", ["a__x.png", "a__b__x.png", "a__b__y.png"], seed=3)[0].parent
    pairs = pair_stylized_dir(x, content, style)
    assert [(p.index, p.content.name, p.style.name if p.style else None, p.name) for p in pairs] == [
        (0, "a__b.png", "x.jpg", "a__b__x.png"), (1, "a__b.png", "y.png", "a__b__y.png"), (2, "a.png", "x.jpg", "a__x.png")]


def test_ambiguous_or_unknown_names_are_one_clear_error(tmp_path: Path, image_writer: Any) -> None:
    content = image_writer(tmp_path / "c", ["a.png", "a__b.png"], seed=1)[0].parent
    style = image_writer(tmp_path / "s", ["x.png", "b__x.png"], seed=2)[0].parent
    x = image_writer(tmp_path / "x", ["a__b__x.png", "zzz.png"], seed=3)[0].parent  # 2 readings; no reading
    with pytest.raises(PairingError) as err:
        pair_stylized_dir(x, content, style)
    assert "2 of 2 stylized files" in str(err.value) and "zzz.png" in str(err.value)


def test_sorted_rule_needs_equal_counts(tmp_path: Path, image_writer: Any) -> None:
    content = image_writer(tmp_path / "c", ["1.png", "2.png"], seed=1)[0].parent
    style = image_writer(tmp_path / "s", ["1.png"], seed=2)[0].parent
    x = image_writer(tmp_path / "x", ["1.png", "2.png", "3.png"], seed=3)[0].parent
    with pytest.raises(PairingError, match="2 content .* 3 stylized"):
        pair_stylized_dir(x, content, style, rule="sorted")
    pairs = pair_stylized_dir(x.parent / "c", content, style, rule="sorted")  # style count differs: no pair styles
    assert [p.style for p in pairs] == [None, None]


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        EvalConfig(content_dir="c", style_dir="s").validate()
    with pytest.raises(ConfigError, match="per_pair"):
        EvalConfig(checkpoint="x", content_dir="c", style_dir="s", fid_variant="fid_inf").validate()
    with pytest.raises(ConfigError, match="lpips_net"):
        EvalConfig(checkpoint="x", content_dir="c", style_dir="s", lpips_net="nope").validate()  # type: ignore[arg-type]
