"""AdaConv's released ``model.ckpt`` (RElbers/ada-conv-pytorch) -> the suite.

The peer's modules are re-written here from its code (``lib/vgg.py``, ``lib/adaconv/*.py``):
their state dict, under ``model.`` in a Lightning-style checkpoint that also names a callback
class (as old Lightning versions store them), is the file imported. The suite's output is
compared in float64 with the peer's forward computed by these modules: <= 1e-5 relative to the
output's largest magnitude, at content sizes that are and are not multiples of 16, with the
peer's 256 px style and a 128 px style (a model trained with ``--style-size 128``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stylekernel.checkpoint import load_net
from stylekernel.cli import main as cli
from stylekernel.released import import_release

REL = 1e-5
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


# --- the peer's modules ----------------------------------------------------------------------
def peer_vgg_blocks() -> nn.ModuleList:
    """``VGGEncoder``: torchvision's ``vgg19().features`` (3x3 convs with padding 1, set to
    reflection padding; ReLUs; 2x2 max pools) cut after relu1_1, relu2_1, relu3_1, relu4_1."""
    conv = lambda i, o: nn.Conv2d(i, o, 3, padding=1, padding_mode="reflect")  # noqa: E731
    r, p = nn.ReLU, lambda: nn.MaxPool2d(2, 2)  # noqa: E731
    return nn.ModuleList([
        nn.Sequential(conv(3, 64), r()),
        nn.Sequential(conv(64, 64), r(), p(), conv(64, 128), r()),
        nn.Sequential(conv(128, 128), r(), p(), conv(128, 256), r()),
        nn.Sequential(conv(256, 256), r(), conv(256, 256), r(), conv(256, 256), r(), p(), conv(256, 512), r()),
    ])  # fmt: skip


class PeerKernelPredictor(nn.Module):
    def __init__(self, c: int, groups: int, sd: int, k: int) -> None:
        super().__init__()
        self.c, self.groups, self.k = c, groups, k
        self.spatial = nn.Conv2d(sd, c * c // groups, k, padding=(k - 1) // 2, padding_mode="reflect")
        self.pointwise = nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Conv2d(sd, c * c // groups, 1))
        self.bias = nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Conv2d(sd, c, 1))

    def forward(self, w: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        b = len(w)
        return (
            self.spatial(w).reshape(b, self.c, self.c // self.groups, self.k, self.k),
            self.pointwise(w).reshape(b, self.c, self.c // self.groups, 1, 1),
            self.bias(w).reshape(b, self.c),
        )


class PeerAdaConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, groups: int) -> None:
        super().__init__()
        self.groups = groups
        self.conv = nn.Conv2d(cin, cout, 3, padding=(1, 1), padding_mode="reflect")

    def forward(self, x: Tensor, w_spatial: Tensor, w_pointwise: Tensor, bias: Tensor) -> Tensor:
        x = F.instance_norm(x)
        ys = []
        for i in range(len(x)):  # the peer's per-sample loop
            p = (w_spatial.shape[-1] - 1) // 2
            y = F.conv2d(F.pad(x[i : i + 1], (p, p, p, p), mode="reflect"), w_spatial[i], groups=self.groups)
            ys.append(F.conv2d(y, w_pointwise[i], groups=self.groups, bias=bias[i]))
        return self.conv(torch.cat(ys))


def peer_decoder_layers(sd: int, k: int) -> nn.ModuleList:
    """``AdaConvDecoder._make_layers`` for (512, 256), (256, 128), (128, 64), (64, 3) with group
    divisors 1, 2, 4, 8 and 1, 4, 2, 2 convs; the last stage has no final ReLU, no upsampling."""
    layers: list[nn.Module] = []
    for cin, cout, div, n_convs, final in [(512, 256, 1, 1, True), (256, 128, 2, 4, True), (128, 64, 4, 2, True), (64, 3, 8, 2, False)]:
        g = cin // div
        for i in range(n_convs):
            last = i == n_convs - 1
            o = cout if last else cin
            if i == 0:
                layers += [PeerKernelPredictor(cin, g, sd, k), PeerAdaConv2d(cin, o, g)]
            else:
                layers.append(nn.Conv2d(cin, o, 3, padding=1, padding_mode="reflect"))
            if not last or final:
                layers.append(nn.ReLU())
        if final:
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
    return nn.ModuleList(layers)


class PeerAdaConvModel(nn.Module):
    """``AdaConvModel(style_size, style_channels, kernel_size)``."""

    def __init__(self, style_size: int = 256, sd: int = 512, k: int = 3) -> None:
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.blocks = peer_vgg_blocks()
        self.style_encoder = nn.Module()
        c = 512
        self.style_encoder.downscale = nn.Sequential(*[
            m for _ in range(3) for m in (nn.Conv2d(c, c, 3, padding=1, padding_mode="reflect"), nn.LeakyReLU(), nn.AvgPool2d(2, 2))
        ])  # fmt: skip
        s = style_size // 8
        self.style_encoder.fc = nn.Linear(c * (s // 8) * s // 8, sd * k * k)
        self.decoder = nn.Module()
        self.decoder.layers = peer_decoder_layers(sd, k)
        self.sd, self.k = sd, k

    def encode(self, x: Tensor) -> Tensor:
        x = (x - torch.tensor(MEAN, dtype=x.dtype).view(1, 3, 1, 1)) / torch.tensor(STD, dtype=x.dtype).view(1, 3, 1, 1)
        for block in self.encoder.blocks:
            x = block(x)
        return x  # relu4_1

    def forward(self, content: Tensor, style: Tensor) -> Tensor:
        zc, zs = self.encode(content), self.encode(style)
        w = self.style_encoder.fc(self.style_encoder.downscale(zs).reshape(len(zs), -1)).reshape(len(zs), self.sd, self.k, self.k)
        x = zc
        for layer in self.decoder.layers:
            if isinstance(layer, PeerKernelPredictor):
                kernels = layer(w)
            elif isinstance(layer, PeerAdaConv2d):
                x = layer(x, *kernels)
            else:
                x = layer(x)
        return x


class ModelCheckpoint:  # stands for the Lightning callback class old versions use as a dict key
    pass


def write_checkpoint(model: nn.Module, path: Path) -> Path:
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    torch.save({"epoch": 0, "global_step": 160000, "pytorch-lightning_version": "1.3.8", "state_dict": state,
                "callbacks": {ModelCheckpoint: {"best_model_score": None}}, "hyper_parameters": {"style_size": 256}}, path)  # fmt: skip
    return path


@pytest.fixture(scope="module")
def peer(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[PeerAdaConvModel, Path]]:
    root = tmp_path_factory.mktemp("adaconv")
    out = {}
    for style_size in (256, 128):
        torch.manual_seed(style_size)
        model = PeerAdaConvModel(style_size=style_size)
        out[style_size] = (model, write_checkpoint(model, root / f"model_{style_size}.ckpt"))
    return out


@pytest.mark.parametrize(
    ("style_size", "content", "batch"),
    [pytest.param(256, (64, 80), 2, marks=pytest.mark.slow), (128, (72, 100), 1), (128, (48, 64), 2)],
    ids=["256px-style-multiple-of-16", "not-multiple-of-16", "batch-of-2"],
)
def test_imported_adaconv_matches_the_peer(peer: dict, tmp_path: Path, style_size: int, content: tuple[int, int], batch: int) -> None:
    model, file = peer[style_size]
    ckpt = tmp_path / "adaconv.ckpt"
    assert cli(["weights", "import", "adaconv", "--checkpoint", str(file), "--output", str(ckpt)]) == 0
    net = load_net(ckpt).double()
    assert net.encoder.last_layer == "relu4_1" and net.encoder.padding_mode == "reflect"
    g = torch.Generator().manual_seed(1)
    c = torch.rand(batch, 3, *content, generator=g, dtype=torch.float64)
    s = torch.rand(batch, 3, style_size, style_size, generator=g, dtype=torch.float64)
    with torch.no_grad():
        out, ref = net(c, s), model.double()(c, s)
    assert out.shape == ref.shape
    assert float((out - ref).abs().max() / ref.abs().max()) <= REL


def test_wrong_files(peer: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, file = peer[256]
    out = tmp_path / "x.ckpt"
    other = tmp_path / "decoder.pth"
    torch.save(nn.Sequential(nn.Conv2d(3, 3, 1)).state_dict(), other)  # another method's plain state dict
    truncated = tmp_path / "model.ckpt"
    data = file.read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    bad_shape = tmp_path / "shape.ckpt"
    ckpt = torch.load(file, weights_only=False)
    ckpt["state_dict"]["model.decoder.layers.7.weight"] = torch.zeros(256, 256, 1, 1)
    torch.save(ckpt, bad_shape)
    for path, words in [(other, ["no 'state_dict'"]), (truncated, ["not a readable"]), (bad_shape, ["'decoder.layers.7.weight'", "(256, 256, 1, 1)"])]:
        rc = cli(["weights", "import", "adaconv", "--checkpoint", str(path), "--output", str(out)])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and len(err.splitlines()) == 1 and str(path) in err and "(checkpoint)" in err, err
        assert all(w in err for w in words), err
        assert not out.exists() and not list(tmp_path.glob(".x.ckpt*"))


_RAN: list[str] = []


def _record(text: str) -> None:
    _RAN.append(text)


class _Exploit:
    """Unpickling this calls ``_record``: a stand-in for code hidden in a downloaded file."""

    def __reduce__(self) -> tuple:
        return (_record, ("executed",))


def test_nothing_in_the_file_is_executed(peer: dict, tmp_path: Path) -> None:
    """A checkpoint whose pickle calls a function: the import neither runs it nor fails on it."""
    ckpt = torch.load(peer[128][1], weights_only=False)
    ckpt["hyper_parameters"] = _Exploit()
    path = tmp_path / "exploit.ckpt"
    torch.save(ckpt, path)
    torch.load(path, weights_only=False)
    assert _RAN == ["executed"]  # the file does run code when unpickled plainly
    _RAN.clear()
    import_release("adaconv", {"checkpoint": path}, tmp_path / "ok.ckpt")
    assert _RAN == [] and (tmp_path / "ok.ckpt").is_file()
