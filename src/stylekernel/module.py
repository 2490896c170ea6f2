"""StyleTransferModule: trains any :class:`StyleTransferNet` with the losses of this family.

The module holds no dataset knowledge: batches are dicts with ``content`` and ``style`` image
tensors (B, 3, H, W) in [0, 1] (validation/test batches may carry ``content_id``/``style_id``).
The network is passed in (a ``class_path`` in YAML), so a baseline trains with the same code.
"""

from __future__ import annotations

import functools
import importlib
import logging
import warnings
from typing import Any, Mapping, Sequence

import lightning as L
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor

from stylekernel import __version__
from stylekernel import losses as L_
from stylekernel.errors import ConfigError, check
from stylekernel.image_logging import log_image_grid, make_grid
from stylekernel.nn.base import StyleTransferNet

log = logging.getLogger(__name__)

LOSS_TERMS = ("content", "style", "identity1", "identity2")

# The defaults of ``optimizer`` and ``lr_scheduler`` as jsonargparse specs (``--print_config``
# shows them; ``--model.init_args.optimizer.init_args.lr=...`` changes one value): Adam lr 1e-4
# with torch's default betas (0.9, 0.999) and weight decay 0, and the inverse decay
# lr / (1 + 5e-5 * step) stepped once per optimiser step (InverseDecayLR's own defaults).
DEFAULT_OPTIMIZER: Mapping[str, Any] = {"class_path": "torch.optim.Adam", "init_args": {"lr": 1e-4}}
DEFAULT_LR_SCHEDULER: Mapping[str, Any] = {"class_path": "stylekernel.schedule.InverseDecayLR"}

# Arguments of the module before the optimiser and scheduler were injected (checkpoints written
# until then save them as hyper-parameters): old name -> (new argument, its init_args key).
LEGACY_ARGUMENTS = {
    "lr": ("optimizer", "lr"),
    "betas": ("optimizer", "betas"),
    "weight_decay": ("optimizer", "weight_decay"),
    "lr_decay": ("lr_scheduler", "decay"),
    "warmup_steps": ("lr_scheduler", "warmup_steps"),
    "warmup_start": ("lr_scheduler", "warmup_start"),
    "lr_milestones": ("lr_scheduler", "milestones"),
    "lr_gamma": ("lr_scheduler", "gamma"),
}


class StyleTransferModule(L.LightningModule):
    """LightningModule around a style-transfer network.

    Args:
        net: the network (StyleKernelNet or a baseline).
        content_weight, style_weight, identity1_weight, identity2_weight: loss weights
            (defaults: SANet's 1, 3, 50, 1); a weight of 0 skips that term's computation.
        content_layers: encoder layers of the content loss.
        style_layers: encoder layers of the style and identity-2 losses.
        optimizer: builds the optimiser from the network's trainable parameters (one param
            group); default Adam, lr 1e-4, betas (0.9, 0.999), no weight decay. In YAML a
            ``class_path`` (any ``torch.optim`` class) with ``init_args``; in Python a callable
            or such a dict.
        lr_scheduler: builds the scheduler from the optimiser, stepped once per optimiser step;
            default :class:`~stylekernel.schedule.InverseDecayLR` (lr / (1 + 5e-5 * step));
            None: a constant lr.
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
        optimizer: OptimizerCallable = DEFAULT_OPTIMIZER,  # type: ignore[assignment]
        lr_scheduler: LRSchedulerCallable | None = DEFAULT_LR_SCHEDULER,  # type: ignore[assignment]
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
            ("num_logged_images", num_logged_images),
        ]:
            check(value >= 0, f"{name} must be >= 0, got {value}")
        check(std_eps >= 0, f"std_eps must be >= 0, got {std_eps}")
        check(content_target in ("content", "transformed"), f"content_target must be 'content' or 'transformed', got {content_target!r}")
        check(
            content_target == "content" or tuple(content_layers) == ("relu4_1",),
            f"content_target 'transformed' compares relu4_1 only: content_layers must be [relu4_1], got {list(content_layers)}",
        )
        missing = [n for n in dict.fromkeys([*content_layers, *style_layers]) if n not in net.encoder.layers]
        check(not missing, f"content_layers/style_layers {missing} are not in the encoder, which ends at {net.encoder.last_layer}")
        self._build_optimizer = _as_callable(optimizer)
        self._build_lr_scheduler = None if lr_scheduler is None else _as_callable(lr_scheduler)
        _check_optimisation(self._build_optimizer, self._build_lr_scheduler)
        self.save_hyperparameters(ignore=["net"])
        for name, value in (("optimizer", optimizer), ("lr_scheduler", lr_scheduler)):
            # outside LightningCLI (which saves its config): a plain-data copy, checkpoints load weights_only
            if value is not None and name in self.hparams and self.hparams[name] is value:
                spec = callable_spec(value)
                if spec is None:
                    del self.hparams[name]  # a lambda or function: not recordable, not resumable by config
                else:
                    self.hparams[name] = spec
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
        """Stylize: (B, 3, H, W), (B, 3, H', W') -> (B, 3, H, W) clamped to [0, 1]."""
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
        optimizer = self._build_optimizer(self.net.trainable_parameters())
        if self._build_lr_scheduler is None:
            return {"optimizer": optimizer}
        scheduler = self._build_lr_scheduler(optimizer)
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


# --- the injected optimiser and scheduler ---------------------------------------------------
def _import(path: str) -> Any:
    module, _, name = path.rpartition(".")
    check(bool(module), f"class_path {path!r} is not a dotted import path")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"class_path {path!r} cannot be imported: {exc}") from None


def _as_callable(value: Any) -> Any:
    """A callable, or a ``{"class_path", "init_args"}`` spec -> the callable (a partial of the class)."""
    if isinstance(value, Mapping):
        extra = set(value) - {"class_path", "init_args"}
        check("class_path" in value and not extra, f"an optimiser/scheduler spec has class_path and init_args, got {sorted(value)}")
        return functools.partial(_import(str(value["class_path"])), **dict(value.get("init_args") or {}))
    check(callable(value), f"optimizer/lr_scheduler must be callable or a class_path spec, got {value!r}")
    return value


def callable_spec(value: Any) -> dict[str, Any] | None:
    """The plain-data ``{"class_path", "init_args"}`` of a spec, a class or a keyword partial of one; else None."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {"class_path": str(value["class_path"]), "init_args": dict(value.get("init_args") or {})}
    if isinstance(value, functools.partial) and isinstance(value.func, type) and not value.args:
        return {"class_path": f"{value.func.__module__}.{value.func.__qualname__}", "init_args": dict(value.keywords)}
    if isinstance(value, type):
        return {"class_path": f"{value.__module__}.{value.__qualname__}", "init_args": {}}
    return None


def _check_optimisation(build_optimizer: Any, build_lr_scheduler: Any) -> None:
    """Build both on a one-element parameter, so a bad value fails at construction in one line."""
    probe = torch.nn.Parameter(torch.zeros(1))
    try:
        optimizer = build_optimizer([probe])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"optimizer: {exc}") from None
    check(isinstance(optimizer, torch.optim.Optimizer), f"optimizer must build a torch.optim.Optimizer, got {type(optimizer).__name__}")
    lr = optimizer.param_groups[0].get("lr")
    check(isinstance(lr, (int, float)) and lr > 0, f"optimizer lr must be > 0, got {lr}")
    if build_lr_scheduler is not None:
        try:
            build_lr_scheduler(optimizer)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"lr_scheduler: {exc}") from None


def migrate_hparams(hparams: Mapping[str, Any]) -> dict[str, Any]:
    """Saved hyper-parameters with the pre-injection names (lr, lr_decay, ...) -> today's arguments.

    ``lr``, ``betas``, ``weight_decay`` become Adam's ``optimizer`` init_args; ``lr_decay``,
    ``warmup_steps``, ``warmup_start``, ``lr_milestones``, ``lr_gamma`` become
    :class:`~stylekernel.schedule.InverseDecayLR`'s ``decay``, ``warmup_steps``,
    ``warmup_start``, ``milestones``, ``gamma``. Hyper-parameters without them come back unchanged.
    """
    out = dict(hparams)
    old = {k: out.pop(k) for k in list(out) if k in LEGACY_ARGUMENTS}
    if not old:
        return out
    specs = {"optimizer": DEFAULT_OPTIMIZER, "lr_scheduler": DEFAULT_LR_SCHEDULER}
    for target in dict.fromkeys(t for t, _ in LEGACY_ARGUMENTS.values()):
        values = {key: old[name] for name, (t, key) in LEGACY_ARGUMENTS.items() if t == target and name in old}
        if values:
            spec = callable_spec(specs[target])
            assert spec is not None
            spec["init_args"].update({k: list(v) if isinstance(v, tuple) else v for k, v in values.items()})
            out[target] = spec
    return out


def upgrade_legacy_flags(args: Sequence[str]) -> list[str]:
    """``--model.init_args.lr=X`` (and ``--model.lr``, each old name) -> today's key, with a deprecation warning.

    The pre-injection flags keep working for one release: ``--model.init_args.lr`` becomes
    ``--model.init_args.optimizer.init_args.lr``, ``--model.init_args.lr_decay`` becomes
    ``--model.init_args.lr_scheduler.init_args.decay``, and so on (:data:`LEGACY_ARGUMENTS`).
    """
    out = []
    for arg in args:
        flag, eq, value = arg.partition("=")
        for prefix in ("--model.init_args.", "--model."):
            name = flag[len(prefix):] if flag.startswith(prefix) else None
            if name in LEGACY_ARGUMENTS:
                target, key = LEGACY_ARGUMENTS[name]
                new = f"--model.init_args.{target}.init_args.{key}"
                warnings.warn(f"{flag} is deprecated and will be removed in the next release: use {new}", FutureWarning, stacklevel=2)
                arg = new + eq + value
                break
        out.append(arg)
    return out
