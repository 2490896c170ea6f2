"""StyleTransferModule: loss terms, schedule, logging, checkpoints, exact resume."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from stylekernel import losses
from stylekernel.checkpoint import load_net, read_checkpoint
from stylekernel.errors import CheckpointError, ConfigError
from stylekernel.module import StyleTransferModule
from stylekernel.nn.style_kernel_net import StyleKernelNet
from stylekernel.schedule import InverseDecayLR

SIZE = 32


class PairSet(Dataset):
    """Deterministic (content, style) pairs: item i is generated from seed i."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        g = torch.Generator().manual_seed(i)
        return {"content": torch.rand(3, SIZE, SIZE, generator=g), "style": torch.rand(3, SIZE, SIZE, generator=g)}


class PairData(L.LightningDataModule):
    def __init__(self, n: int = 6, batch_size: int = 2) -> None:
        super().__init__()
        self.n, self.batch_size = n, batch_size

    def train_dataloader(self) -> DataLoader:
        return DataLoader(PairSet(self.n), batch_size=self.batch_size, shuffle=False)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(PairSet(2), batch_size=2)


def adam(lr: float) -> dict:
    """The ``optimizer`` spec of Adam at ``lr`` (torch's default betas, no weight decay)."""
    return {"class_path": "torch.optim.Adam", "init_args": {"lr": lr}}


def inverse_decay(decay: float) -> dict:
    """The ``lr_scheduler`` spec lr / (1 + decay * step)."""
    return {"class_path": "stylekernel.schedule.InverseDecayLR", "init_args": {"decay": decay}}


def multiplier(**init_args: object):  # type: ignore[no-untyped-def]
    """lr(step) / base_lr of ``InverseDecayLR(optimizer, **init_args)`` (its defaults for the others)."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    return InverseDecayLR(optimizer, **init_args).lr_lambdas[0]  # type: ignore[arg-type]


def small_net(**kwargs) -> StyleKernelNet:
    torch.manual_seed(0)
    return StyleKernelNet(encoder_weights="random", groups=16, kernel_hidden_channels=32, gate_hidden_channels=16, **kwargs)


def trainer(tmp_path: Path, **kwargs) -> L.Trainer:
    defaults = dict(
        accelerator="cpu", devices=1, logger=False, enable_progress_bar=False, enable_model_summary=False,
        deterministic=True, default_root_dir=str(tmp_path), num_sanity_val_steps=0, limit_val_batches=0,
    )  # fmt: skip
    defaults.update(kwargs)
    return L.Trainer(**defaults)


def test_loss_terms_match_the_loss_functions() -> None:
    torch.manual_seed(0)
    module = StyleTransferModule(small_net(), content_weight=2.0, style_weight=5.0, identity1_weight=7.0, identity2_weight=0.5)
    c, s = torch.rand(2, 3, SIZE, SIZE), torch.rand(2, 3, SIZE, SIZE)
    terms, out = module.compute_losses(c, s)
    net = module.net
    with torch.no_grad():
        ref_out = net(c, s)
        torch.testing.assert_close(out, ref_out)
        fo, fc, fs = net.encode(out, losses.STYLE_LAYERS), net.encode(c, losses.STYLE_LAYERS), net.encode(s, losses.STYLE_LAYERS)
        cc, ss = net(c, c), net(s, s)
        fcc, fss = net.encode(cc, losses.STYLE_LAYERS), net.encode(ss, losses.STYLE_LAYERS)
        expected = {
            "content": 2.0 * losses.content_loss(fo, fc),
            "style": 5.0 * losses.style_loss(fo, fs),
            "identity1": 7.0 * losses.identity1_loss(cc, c, ss, s),
            "identity2": 0.5 * losses.identity2_loss(fcc, fc, fss, fs),
        }
    for k, v in expected.items():
        torch.testing.assert_close(terms[k], v, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(terms["loss"], sum(expected.values()), rtol=1e-5, atol=1e-6)


def test_zero_weight_skips_the_term() -> None:
    module = StyleTransferModule(small_net(), identity1_weight=0.0, identity2_weight=0.0)
    terms, _ = module.compute_losses(torch.rand(1, 3, SIZE, SIZE), torch.rand(1, 3, SIZE, SIZE))
    assert set(terms) == {"content", "style", "loss"}


@pytest.mark.parametrize(
    "kwargs, word",
    [({"optimizer": adam(0.0)}, "lr"), ({"lr_scheduler": inverse_decay(-1.0)}, "decay"), ({"style_weight": -1.0}, "style_weight")],
)
def test_bad_hyperparameters_name_the_argument(kwargs: dict, word: str) -> None:
    with pytest.raises(ConfigError, match=word):
        StyleTransferModule(small_net(), **kwargs)


def test_inverse_decay_schedule() -> None:
    f = multiplier()  # the defaults: lr / (1 + 5e-5 * step)
    assert f(0) == 1.0 and f(20000) == pytest.approx(1 / 2.0)
    w = multiplier(decay=1e-3, warmup_steps=10, warmup_start=0.1)
    assert w(0) == pytest.approx(0.1) and w(5) == pytest.approx(0.55) and w(10) == 1.0 and w(1010) == pytest.approx(0.5)


def test_schedule_reproduces_the_stytr2_and_adaattn_recipes() -> None:
    """configs/model/stytr2.yaml and adaattn.yaml against the authors' formulas, written here."""
    import yaml

    root = Path(__file__).resolve().parents[1] / "configs" / "model"
    st = yaml.safe_load((root / "stytr2.yaml").read_text())["model"]["init_args"]
    assert st["optimizer"]["class_path"] == "torch.optim.Adam"
    assert st["lr_scheduler"]["class_path"] == "stylekernel.schedule.InverseDecayLR"
    lr, f = st["optimizer"]["init_args"]["lr"], multiplier(**st["lr_scheduler"]["init_args"])
    for i in [0, 1, 4999, 9999, 10000, 10001, 50000, 159999]:
        # StyTR-2 train.py: warmup_learning_rate (args.lr = 5e-4) below 1e4, adjust_learning_rate after
        peer = 5e-4 * 0.1 * (1.0 + 3e-4 * i) if i < 1e4 else 2e-4 / (1.0 + 1e-5 * (i - 1e4))
        assert lr * f(i) == pytest.approx(peer, rel=1e-12)
    aa = yaml.safe_load((root / "adaattn.yaml").read_text())["model"]["init_args"]
    assert aa["lr_scheduler"]["class_path"] == "stylekernel.schedule.InverseDecayLR"
    lr, g = aa["optimizer"]["init_args"]["lr"], multiplier(**aa["lr_scheduler"]["init_args"])
    steps_per_epoch = aa["lr_scheduler"]["init_args"]["milestones"][0] // 2
    for i in [0, steps_per_epoch, 2 * steps_per_epoch - 1, 2 * steps_per_epoch, 3 * steps_per_epoch + 5, 5 * steps_per_epoch - 1]:
        # AdaAttN networks.get_scheduler('linear'): lr * 0.3 ** max(0, epoch + 1 - n_epochs), n_epochs 2, stepped per epoch
        epoch = i // steps_per_epoch
        assert lr * g(i) == pytest.approx(2e-4 * 0.3 ** max(0, epoch + 1 - 2), rel=1e-12)


def test_training_lowers_the_loss_and_schedules_lr(tmp_path: Path) -> None:
    module = StyleTransferModule(small_net(), optimizer=adam(1e-3), lr_scheduler=inverse_decay(0.1))
    batch = PairSet(2)[0]
    batch = {k: v.unsqueeze(0).repeat(2, 1, 1, 1) for k, v in batch.items()}
    before = module.compute_losses(batch["content"], batch["style"])[0]["loss"].item()
    t = trainer(tmp_path, max_steps=8)
    data = PairData(n=2, batch_size=2)
    t.fit(module, datamodule=data)
    after = module.compute_losses(batch["content"], batch["style"])[0]["loss"].item()
    assert after < before
    assert t.optimizers[0].param_groups[0]["lr"] == pytest.approx(1e-3 / (1 + 0.1 * 8))


def _final_weights(module: StyleTransferModule) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.net.state_dict().items()}


def test_exact_resume_matches_uninterrupted_training(tmp_path: Path) -> None:
    full = StyleTransferModule(small_net(), optimizer=adam(1e-3))
    trainer(tmp_path / "a", max_epochs=2).fit(full, datamodule=PairData())
    ref = _final_weights(full)

    half = StyleTransferModule(small_net(), optimizer=adam(1e-3))
    t1 = trainer(tmp_path / "b", max_epochs=1)
    t1.fit(half, datamodule=PairData())
    ckpt = tmp_path / "half.ckpt"
    t1.save_checkpoint(ckpt)
    resumed = StyleTransferModule(small_net(), optimizer=adam(1e-3))
    with torch.no_grad():  # make sure the resumed weights really come from the checkpoint
        for p in resumed.net.trainable_parameters():
            p.add_(1.0)
    t2 = trainer(tmp_path / "c", max_epochs=2)
    t2.fit(resumed, datamodule=PairData(), ckpt_path=ckpt)
    assert t2.global_step == 6
    got = _final_weights(resumed)
    for k in ref:
        torch.testing.assert_close(got[k], ref[k], rtol=0, atol=1e-6, msg=k)


def test_checkpoint_is_weights_only_and_rebuilds_the_net(tmp_path: Path) -> None:
    module = StyleTransferModule(small_net(gate="hard", kernel_size=5))
    t = trainer(tmp_path, max_steps=1)
    t.fit(module, datamodule=PairData(n=2))
    path = tmp_path / "m.ckpt"
    t.save_checkpoint(path)
    raw = torch.load(path, weights_only=True)
    assert raw["stylekernel"]["encoder_source"] == "random"
    assert raw["stylekernel"]["net"]["init_args"]["kernel_size"] == 5
    net = load_net(path)
    c, s = torch.rand(1, 3, SIZE, SIZE), torch.rand(1, 3, SIZE, SIZE)
    module.eval()
    with torch.no_grad():
        torch.testing.assert_close(net(c, s), module.net(c, s))


@pytest.mark.parametrize("content, word", [(b"", "empty"), (b"<html>nope</html>", "not a readable checkpoint"), (None, "does not exist")])
def test_bad_checkpoints_are_one_clear_error(tmp_path: Path, content, word: str) -> None:
    path = tmp_path / "x.ckpt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=word) as info:
        read_checkpoint(path)
    assert "\n" not in str(info.value)
    with pytest.raises(CheckpointError, match="directory"):
        read_checkpoint(tmp_path)
    torch.save({"state_dict": {}}, tmp_path / "plain.ckpt")
    with pytest.raises(CheckpointError, match="not written by"):
        load_net(tmp_path / "plain.ckpt")


def test_validation_logs_an_image_grid(tmp_path: Path) -> None:
    from lightning.pytorch.loggers import CSVLogger

    module = StyleTransferModule(small_net(), num_logged_images=2)
    t = trainer(tmp_path, max_steps=1, logger=CSVLogger(tmp_path), limit_val_batches=1, log_every_n_steps=1)
    t.fit(module, datamodule=PairData(n=2))
    images = list(Path(t.logger.log_dir).glob("images/val_content_style_output_step*.png"))
    assert images
    from PIL import Image

    assert Image.open(images[0]).size == (3 * SIZE, 2 * SIZE)
    metrics = (Path(t.logger.log_dir) / "metrics.csv").read_text()
    for key in ("train/content", "train/style", "train/identity1", "train/identity2", "train/loss", "train/lr", "val/loss"):
        assert key in metrics


def test_bf16_mixed_training_step_keeps_fp32_statistics(tmp_path: Path) -> None:
    module = StyleTransferModule(small_net(), optimizer=adam(1e-3))
    seen: dict[str, torch.dtype] = {}
    original = module.compute_losses

    def spy(content, style):
        terms, out = original(content, style)
        seen.update({k: v.dtype for k, v in terms.items()})
        seen["output"] = out.dtype
        return terms, out

    module.compute_losses = spy  # type: ignore[method-assign]
    before = [p.detach().clone() for p in module.net.trainable_parameters()]
    t = trainer(tmp_path, max_steps=1, precision="bf16-mixed")
    t.fit(module, datamodule=PairData(n=2))
    assert seen["output"] == torch.bfloat16  # the network really ran under bf16 autocast
    assert all(seen[k] == torch.float32 for k in ("content", "style", "identity1", "identity2", "loss"))
    after = list(module.net.trainable_parameters())
    assert all(p.dtype == torch.float32 for p in after)  # master weights stay fp32
    assert any(not torch.equal(a, b) for a, b in zip(after, before))
