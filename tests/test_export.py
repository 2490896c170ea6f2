"""stylekernel export / Stylizer.from_pretrained: safetensors + JSON folders, local and from the HF cache.

A small random StyleKernelNet is saved as a real Lightning checkpoint inside a run folder (with a
config.yaml, as `stylekernel fit` leaves it), exported, and loaded back: the outputs must be
bit-identical to the checkpoint's. Bad input (not a checkpoint, a non-empty output folder, a
tampered weights file or config) is one line, exit 2, and leaves nothing behind.
"""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import lightning as L
import pytest
import torch

from stylekernel import cli, export
from stylekernel.checkpoint import load_net, read_checkpoint
from stylekernel.errors import CheckpointError, ConfigError
from stylekernel.inference import Stylizer
from stylekernel.module import StyleTransferModule
from stylekernel.nn.style_kernel_net import StyleKernelNet

TRAIN_CONFIG = "model:\n  class_path: stylekernel.module.StyleTransferModule\n  init_args:\n    lr: 0.000123\n"


@pytest.fixture(autouse=True)
def _one_thread(single_thread: None) -> None:
    """Tiny networks: one torch thread is faster on a shared CPU."""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """runs/x/version_0/checkpoints/last.ckpt of a small random net, with the run's config.yaml."""
    torch.manual_seed(0)
    net = StyleKernelNet(encoder_weights="random", groups=16, kernel_hidden_channels=32, gate_hidden_channels=16)
    with torch.no_grad():  # non-trivial weights everywhere (biases too), so any mix-up shows in the outputs
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    run = tmp_path_factory.mktemp("runs") / "version_0"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(TRAIN_CONFIG)
    path = run / "checkpoints" / "last.ckpt"
    module = StyleTransferModule(net)
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.strategy.connect(module)
    trainer.save_checkpoint(path)
    return path


@pytest.fixture(scope="module")
def exported(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export.export(trained, tmp_path_factory.mktemp("exp") / "model")


def _outputs(stylizer: Stylizer) -> torch.Tensor:
    gen = torch.Generator().manual_seed(3)
    c, s = torch.rand(1, 3, 40, 56, generator=gen), torch.rand(1, 3, 48, 48, generator=gen)
    return stylizer.stylize_tensor(c, [s], alpha=0.7)


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_round_trip_is_bit_identical(trained: Path, exported: Path) -> None:
    assert _files(exported) == ["README.md", "config.json", "model.safetensors"]
    a = _outputs(Stylizer.from_checkpoint(trained, style_size=None, tile_size=None))
    b = _outputs(Stylizer.from_pretrained(exported, style_size=None, tile_size=None))
    assert torch.equal(a, b) and a.std() > 0
    net_ckpt, net_dir = load_net(trained), export.load_pretrained(exported)
    sa, sb = net_ckpt.state_dict(), net_dir.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert net_dir.init_config() == json.loads(json.dumps(net_ckpt.init_config()))
    assert net_dir.encoder.source == "random" and not net_dir.training


def test_folder_is_safetensors_and_json_with_the_record(trained: Path, exported: Path) -> None:
    from safetensors.torch import load_file

    from stylekernel.weights import sha256_file

    config = json.loads((exported / "config.json").read_text())
    record = read_checkpoint(trained)["stylekernel"]
    assert config["stylekernel"]["net"]["class_path"] == "stylekernel.nn.style_kernel_net.StyleKernelNet"
    assert config["stylekernel"]["net"]["init_args"]["groups"] == 16
    assert config["stylekernel"]["version"] == record["version"] and config["stylekernel"]["encoder_source"] == "random"
    assert config["weights"]["sha256"] == sha256_file(exported / "model.safetensors")
    assert config["source_checkpoint"]["sha256"] == sha256_file(trained)
    # the weights file is plain safetensors: the network's state dict, nothing pickled
    tensors = load_file(str(exported / "model.safetensors"))
    ckpt_state = read_checkpoint(trained)["state_dict"]
    assert set(tensors) == {k[len("net."):] for k in ckpt_state if k.startswith("net.")}
    assert all(torch.equal(tensors[k], ckpt_state["net." + k]) for k in tensors)
    assert b"\x80\x04" not in (exported / "config.json").read_bytes()
    # read_pretrained gives the checkpoint shape every reader accepts
    shaped = export.read_pretrained(exported)
    assert set(shaped["state_dict"]) == {k for k in ckpt_state if k.startswith("net.")}
    assert shaped["stylekernel"]["net"] == config["stylekernel"]["net"]


def test_model_card_has_training_config_and_says_no_evaluation(exported: Path) -> None:
    card = (exported / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: stylekernel\n")
    assert "lr: 0.000123" in card and "`config.yaml` of the run folder" in card
    assert "## Evaluation\n\nNone: no evaluation summary" in card
    assert "RANDOM VGG encoder" in card


def test_cli_export_with_eval_summary(trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = {"n_pairs": 12, "mode": "checkpoint",
               "metrics": {"lpips": {"label": "LPIPS", "value": 0.4321}, "fid": {"label": "FID", "value": None}}}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    out = tmp_path / "rel"
    assert cli.main(["export", str(trained), "--output", str(out), "--eval-summary", str(tmp_path / "summary.json")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert _files(out) == ["README.md", "config.json", "eval_summary.json", "model.safetensors"]
    card = (out / "README.md").read_text()
    assert "| LPIPS | 0.4321 |" in card and "## Evaluation: 12 pairs" in card
    assert json.loads((out / "eval_summary.json").read_text()) == summary
    # --overwrite replaces a non-empty folder (and leaves no temporary folders next to it)
    assert cli.main(["export", str(trained), "--output", str(out), "--overwrite"]) == 0
    assert _files(out) == ["README.md", "config.json", "model.safetensors"]
    assert _files(tmp_path) == ["rel", "summary.json"]


def _release_checkpoint(path: Path) -> Path:
    """A checkpoint as `stylekernel weights import` writes it (no loop state, a "release" record)."""
    torch.manual_seed(1)
    net = StyleKernelNet(encoder_weights="random", groups=16, kernel_hidden_channels=32, gate_hidden_channels=16)
    release = {"method": "adain", "source": "https://github.com/naoto0804/pytorch-AdaIN",
               "files": {"vgg": {"name": "vgg_normalised.pth", "sha256": "ab" * 32}}}
    torch.save({"state_dict": {"net." + k: v for k, v in net.state_dict().items()},
                "stylekernel": {"version": "0.1.0", "net": net.init_config(), "encoder_source": "released:adain",
                                "release": release}}, path)
    return path


def test_released_weights_keep_their_release_record(tmp_path: Path) -> None:
    ckpt = _release_checkpoint(tmp_path / "imported.ckpt")
    out = export.export(ckpt, tmp_path / "out")
    config = json.loads((out / "config.json").read_text())
    assert config["stylekernel"]["release"]["source"] == "https://github.com/naoto0804/pytorch-AdaIN"
    assert export.read_pretrained(out)["stylekernel"]["release"]["method"] == "adain"
    card = (out / "README.md").read_text()
    assert "imported with `stylekernel weights import`" in card and "`vgg_normalised.pth`" in card
    assert "## Training config\n\nNone" in card


def _hf_cache_with(folder: Path, cache: Path, repo_id: str, revision: str = "0123456789abcdef0123456789abcdef01234567") -> None:
    """Put ``folder`` into an HF cache in its real layout: blobs/, snapshots/<rev>/ links, refs/main."""
    import hashlib

    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    snap = repo / "snapshots" / revision
    snap.mkdir(parents=True)
    for f in folder.iterdir():
        blob = repo / "blobs" / hashlib.sha256(f.read_bytes()).hexdigest()
        blob.write_bytes(f.read_bytes())
        (snap / f.name).symlink_to(Path("..") / ".." / "blobs" / blob.name)


def test_hub_id_offline_from_the_hf_cache(trained: Path, exported: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "hf" / "hub"
    _hf_cache_with(exported, cache, "someone/stylekernel-tiny")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert export.is_pretrained_ref("someone/stylekernel-tiny") and not export.is_pretrained_ref("runs/last.ckpt")
    a = _outputs(Stylizer.from_checkpoint(trained, style_size=None, tile_size=None))
    b = _outputs(Stylizer.from_pretrained("someone/stylekernel-tiny", style_size=None, tile_size=None))
    assert torch.equal(a, b)
    # every command's loader takes the id too
    assert export.read_pretrained("someone/stylekernel-tiny")["stylekernel"]["pretrained"].startswith(str(cache))
    # an id that is not cached: one line naming it and the offline mode
    with pytest.raises(CheckpointError, match="someone/missing: no such file or folder.*offline"):
        Stylizer.from_pretrained("someone/missing")


def test_stylize_and_evaluate_commands_take_the_folder(trained: Path, exported: Path, tmp_path: Path,
                                                        rand_image) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    content, style = rand_image(tmp_path / "c.png", 40, 32, 0), rand_image(tmp_path / "s.png", 32, 32, 1)
    for name, ref in (("ckpt", trained), ("dir", exported)):
        assert cli.main(["stylize", "--checkpoint", str(ref), "--content", str(content), "--style", str(style),
                         "--output", str(tmp_path / f"{name}.png"), "--style-size", "0"]) == 0
    assert Image.open(tmp_path / "ckpt.png").tobytes() == Image.open(tmp_path / "dir.png").tobytes()
    # the reader evaluate calls for --checkpoint (stylekernel_eval.runner.evaluate -> checkpoint.load_net)
    assert isinstance(load_net(exported), StyleKernelNet)


@pytest.fixture
def rand_image():  # type: ignore[no-untyped-def]
    import numpy as np
    from PIL import Image

    def make(path: Path, w: int, h: int, seed: int) -> Path:
        rng = np.random.default_rng(seed)
        Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8), "RGB").save(path)
        return path

    return make


# --- bad input: one line, exit 2, nothing written ---------------------------------------------
def _one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str], match: str) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and re.match(r"stylekernel( \w+)?: error: ", err) and match in err, err
    assert "Traceback" not in err
    return err


def test_export_rejects_a_file_that_is_not_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "notes.ckpt"
    bad.write_text("hello")
    _one_line_exit_2(["export", str(bad), "--output", str(tmp_path / "out")], capsys, "not a readable checkpoint")
    # a pickle with a plain dict but no stylekernel record
    torch.save({"state_dict": {}}, tmp_path / "plain.ckpt")
    _one_line_exit_2(["export", str(tmp_path / "plain.ckpt"), "--output", str(tmp_path / "out")], capsys, "no 'stylekernel' record")
    assert _files(tmp_path) == ["notes.ckpt", "plain.ckpt"]


def test_export_refuses_a_non_empty_output(trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    _one_line_exit_2(["export", str(trained), "--output", str(out)], capsys, "not empty (pass --overwrite")
    assert _files(out) == ["keep.txt"] and _files(tmp_path) == ["out"]
    (tmp_path / "summary.json").write_text("{}")
    _one_line_exit_2(["export", str(trained), "--output", str(tmp_path / "new"), "--eval-summary",
                      str(tmp_path / "summary.json")], capsys, "no 'metrics'")
    assert _files(tmp_path) == ["out", "summary.json"]


def test_export_leaves_nothing_when_writing_fails(trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(export, "model_card", boom)
    with pytest.raises(ConfigError, match="cannot write --output .*out: disk full"):
        export.export(trained, tmp_path / "out")
    assert _files(tmp_path) == []
    # an old folder given with --overwrite stays as it was
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="disk full"):
        export.export(trained, tmp_path / "old", overwrite=True)
    assert _files(tmp_path) == ["old"] and _files(tmp_path / "old") == ["keep.txt"]


@pytest.fixture
def copy_of(exported: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    import shutil

    def make() -> Path:
        dst = tmp_path / "copy"
        shutil.copytree(exported, dst)
        return dst

    return make


@pytest.mark.parametrize("tamper, match", [
    ("flip_weights", "differs from config.json"),
    ("truncate_weights", "truncated or was changed"),
    ("weights_rehashed", "not a readable safetensors file"),
    ("config_init_args", "the config was changed"),
    ("config_not_json", "not valid JSON"),
    ("config_missing", "no config.json"),
    ("config_class", "not a stylekernel model config"),
])
def test_tampered_folders_are_one_line(copy_of, rand_image, tamper: str, match: str, tmp_path: Path,  # type: ignore[no-untyped-def]
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from stylekernel.weights import sha256_file

    folder = copy_of()
    image = rand_image(tmp_path / "c.png", 32, 32, 0)
    weights, config_path = folder / "model.safetensors", folder / "config.json"
    config = json.loads(config_path.read_text())
    if tamper == "flip_weights":
        data = bytearray(weights.read_bytes())
        data[-5] ^= 0xFF
        weights.write_bytes(bytes(data))
    elif tamper == "truncate_weights":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif tamper == "weights_rehashed":  # garbage whose hash was written into the config as well
        weights.write_bytes(b"\xff" * 64)
        config["weights"]["sha256"] = sha256_file(weights)
        config_path.write_text(json.dumps(config))
    elif tamper == "config_init_args":  # a different network: its state dict would not fit
        config["stylekernel"]["net"]["init_args"]["groups"] = 8
        config_path.write_text(json.dumps(config))
    elif tamper == "config_not_json":
        config_path.write_text(config_path.read_text()[:50])
    elif tamper == "config_missing":
        config_path.unlink()
    elif tamper == "config_class":
        del config["format"]
        config_path.write_text(json.dumps(config))
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(CheckpointError, match=match):
        Stylizer.from_pretrained(folder)
    _one_line_exit_2(["stylize", "--checkpoint", str(folder), "--content", str(image), "--style", str(image),
                      "--output", str(tmp_path / "o.png")], capsys, match)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_no_pickle_is_read_when_loading(exported: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_unpickling(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("torch.load / pickle used")

    monkeypatch.setattr(torch, "load", no_unpickling)
    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    assert isinstance(export.load_pretrained(exported), StyleKernelNet)
