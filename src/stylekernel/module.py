"""StyleTransferModule: trains any :class:`StyleTransferNet` with the losses of this family.

The module holds no dataset knowledge: batches are dicts with ``content`` and ``style`` image
tensors (B, 3, H, W) in [0, 1] (validation/test batches may carry ``content_id``/``style_id``).
The network is passed in (a ``class_path`` in YAML), so a baseline trains with the same code.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import lightning as L
import torch
from torch import Tensor

from stylekernel import __version__
from stylekernel import losses as L_
from stylekernel.errors import check
from stylekernel.image_logging import log_image_grid, make_grid
from stylekernel.nn.base import StyleTransferNet
from stylekernel.schedule import InverseDecay

log = logging.getLogger(__name__)

LOSS_TERMS = ("content", "style", "identity1", "identity2")


class StyleTransferModule(L.LightningModule):
    """LightningModule around a style-transfer network.

    Args:
        net: the network (StyleKernelNet or a baseline).
        content_weight, style_weight, identity1_weight, identity2_weight: loss weights
            (defaults: SANet's 1, 3, 50, 1); a weight of 0 skips that term's computation.
        content_layers: encoder layers of the content loss.
        style_layers: encoder layers of the style and identity-2 losses.
        lr: Adam learning rate; lr_decay: inverse decay lr / (1 + lr_decay * step);
        warmup_steps: linear warm-up steps before the decay, starting at ``warmup_start`` x lr;
        lr_milestones, lr_gamma: the lr is multiplied by ``lr_gamma`` at each of these steps
            (see :class:`~stylekernel.schedule.InverseDecay`); betas, weight_decay: Adam's.
        num_logged_images: rows of the content | style | output grid logged at validation.
        content_normalized: content loss on mean-variance-normalised features (True, ours and
            SANet's) or on the raw features (False: AdaIN, AdaConv).
        content_target: ``content`` (the content image's features) or ``transformed`` (the
            network's transformed features at relu4_1, AdaIN's target t; content_layers must
            then be [relu4_1]).
        unbiased_std: the losses' stds and mvn use the unbiased variance (the peers' code) or
            the biased one (False, ours).
        std_eps: eps under the square root of the style loss's std (1e-5; AdaConv's
            ``torch.std`` has none: 0).
    """

    def __init__(
        self,
        net: StyleTransferNet,
        content_weight: float = 1.0,
        style_weight: float = 3.0,
        identity1_weight: float = 50.0,
        identity2_weight: float = 1.0,
        content_layers: Sequence[str] = L_.CONTENT_LAYERS,
        style_layers: Sequence[str] = L_.STYLE_LAYERS,
        lr: float = 1e-4,
        lr_decay: float = 5e-5,
        warmup_steps: int = 0,
        warmup_start: float = 0.0,
        lr_milestones: Sequence[int] = (),
        lr_gamma: float = 1.0,
        betas: tuple[float, float] = (0.9, 0.999),
        weight_decay: float = 0.0,
        num_logged_images: int = 4,
        content_normalized: bool = True,
        content_target: str = "content",
        unbiased_std: bool = False,
        std_eps: float = L_.EPS,
    ) -> None:
        super().__init__()
        for name, value in [
            ("content_weight", content_weight),
            ("style_weight", style_weight),
            ("identity1_weight", identity1_weight),
            ("identity2_weight", identity2_weight),
            ("lr_decay", lr_decay),
            ("weight_decay", weight_decay),
            ("warmup_steps", warmup_steps),
            ("num_logged_images", num_logged_images),
        ]:
            check(value >= 0, f"{name} must be >= 0, got {value}")
        check(lr > 0, f"lr must be > 0, got {lr}")
        check(0.0 <= warmup_start <= 1.0, f"warmup_start must be in [0, 1], got {warmup_start}")
        check(lr_gamma > 0, f"lr_gamma must be > 0, got {lr_gamma}")
        check(all(m >= 0 for m in lr_milestones), f"lr_milestones must be >= 0, got {list(lr_milestones)}")
        check(std_eps >= 0, f"std_eps must be >= 0, got {std_eps}")
        check(content_target in ("content", "transformed"), f"content_target must be 'content' or 'transformed', got {content_target!r}")
        check(
            content_target == "content" or tuple(content_layers) == ("relu4_1",),
            f"content_target 'transformed' compares relu4_1 only: content_layers must be [relu4_1], got {list(content_layers)}",
        )
        missing = [n for n in dict.fromkeys([*content_layers, *style_layers]) if n not in net.encoder.layers]
        check(not missing, f"content_layers/style_layers {missing} are not in the encoder, which ends at {net.encoder.last_layer}")
        self.save_hyperparameters(ignore=["net"])
        self.net = net
        self.content_layers = tuple(content_layers)
        self.style_layers = tuple(style_layers)
        self._feature_layers = tuple(dict.fromkeys(self.style_layers + self.content_layers + tuple(net.feature_layers)))

    # --- losses ---------------------------------------------------------------------------
    def compute_losses(self, content: Tensor, style: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        """content, style: (B, 3, H, W) -> ({term: weighted scalar, "loss": total}, output)."""
        hp = self.hparams
        net = self.net
        fc = net.encode(content, self._feature_layers)
        fs = net.encode(style, self._feature_layers)
        z = net.transform(fc, fs)
        output = net.decode(z)
        out_layers = tuple(dict.fromkeys(self.content_layers + self.style_layers))
        fo = net.encode(output, out_layers)
        terms: dict[str, Tensor] = {}
        if hp.content_weight:
            target = {"relu4_1": z.detach()} if hp.content_target == "transformed" else fc
            loss = L_.content_loss(fo, target, self.content_layers, normalize=hp.content_normalized, unbiased=hp.unbiased_std)
            terms["content"] = hp.content_weight * loss
        if hp.style_weight:
            loss = L_.style_loss(fo, fs, self.style_layers, unbiased=hp.unbiased_std, eps=hp.std_eps)
            terms["style"] = hp.style_weight * loss
        if hp.identity1_weight or hp.identity2_weight:
            cc = net.decode(net.transform(fc, fc))
            ss = net.decode(net.transform(fs, fs))
            if hp.identity1_weight:
                terms["identity1"] = hp.identity1_weight * L_.identity1_loss(cc, content, ss, style)
            if hp.identity2_weight:
                fcc = net.encode(cc, self.style_layers)
                fss = net.encode(ss, self.style_layers)
                terms["identity2"] = hp.identity2_weight * L_.identity2_loss(fcc, fc, fss, fs, self.style_layers)
        terms["loss"] = torch.stack([v for v in terms.values()]).sum()
        return terms, output

    # --- steps ----------------------------------------------------------------------------
    def forward(self, content: Tensor, style: Tensor, alpha: float = 1.0) -> Tensor:
        """Stylise: (B, 3, H, W), (B, 3, H', W') -> (B, 3, H, W) clamped to [0, 1]."""
        return self.net(content, style, alpha=alpha).clamp(0, 1)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        terms, _ = self.compute_losses(batch["content"], batch["style"])
        self.log_dict({f"train/{k}": v.detach() for k, v in terms.items()}, prog_bar=False, batch_size=len(batch["content"]))
        self.log("train/loss_step", terms["loss"].detach(), prog_bar=True, logger=False)
        return terms["loss"]

    def _eval_step(self, stage: str, batch: dict[str, Any], batch_idx: int) -> Tensor:
        terms, output = self.compute_losses(batch["content"], batch["style"])
        self.log_dict(
            {f"{stage}/{k}": v for k, v in terms.items()}, sync_dist=True, batch_size=len(batch["content"])
        )
        if stage == "val" and batch_idx == 0 and self.hparams.num_logged_images and self.trainer.is_global_zero:
            n = min(self.hparams.num_logged_images, len(output))
            style = torch.nn.functional.interpolate(batch["style"][:n], size=output.shape[-2:], mode="bilinear", align_corners=False)
            grid = make_grid([batch["content"][:n], style, output[:n].clamp(0, 1)])
            log_image_grid(list(self.loggers), f"{stage}/content_style_output", grid, self.global_step)
        return terms["loss"]

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self._eval_step("val", batch, batch_idx)

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self._eval_step("test", batch, batch_idx)

    def predict_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> dict[str, Any]:
        """The batch plus ``"stylized"``: (B, 3, H, W) in [0, 1] from the stylization engine (the one
        ``stylize`` and ``evaluate`` use: padding to the stride, tiling, the Trainer's precision)."""
        from stylekernel.engine import StylizationEngine

        precision = self.trainer.precision if self._trainer is not None else "32"
        engine = StylizationEngine(self.net, device=self.device, precision=precision, feature_cache_bytes=0, memory_check=False)
        out = dict(batch)
        out["stylized"] = engine.stylize_batch(batch["content"], batch["style"])
        return out

    # --- optimisation ---------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        optimizer = torch.optim.Adam(self.net.trainable_parameters(), lr=hp.lr, betas=tuple(hp.betas), weight_decay=hp.weight_decay)
        schedule = InverseDecay(hp.lr_decay, hp.warmup_steps, hp.warmup_start, hp.lr_milestones, hp.lr_gamma)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1}}

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        self.log("train/lr", self.trainer.optimizers[0].param_groups[0]["lr"], prog_bar=False, batch_size=1)

    # --- bookkeeping ----------------------------------------------------------------------
    def on_fit_start(self) -> None:
        if self.net.encoder.source == "random":
            msg = (
                "TRAINING WITH A RANDOMLY INITIALISED VGG ENCODER: losses are not perceptual and the "
                "result is a smoke test, not a style-transfer model. Set encoder_weights: torchvision "
                "(run `stylekernel weights download`)."
            )
            log.warning("!" * 78 + "\n!! " + msg + "\n" + "!" * 78)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["stylekernel"] = {
            "version": __version__,
            "net": self.net.init_config(),
            "encoder_source": self.net.encoder.source,
        }
