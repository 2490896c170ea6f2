"""LightningCLI entry for ``stylekernel fit|validate|test|predict``.

The model is always :class:`~stylekernel.module.StyleTransferModule`; its ``net`` (ours or a
baseline) and the DataModule are ``class_path`` entries in YAML (``configs/``). The resolved
config is saved as ``config.yaml`` in every run's log directory. A ``--ckpt_path`` that is not a
readable checkpoint is rejected with one clear line before any work starts.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch.cli import LightningCLI

from stylekernel.checkpoint import read_checkpoint
from stylekernel.module import StyleTransferModule

_SPECIAL_CKPT = {"last", "best", "hpc", "registry"}


class StyleKernelCLI(LightningCLI):
    """LightningCLI with the suite's conventions (saved config, checkpoint validation)."""

    def _check_ckpt_path(self) -> None:
        if self.subcommand is None:
            return
        ckpt_path = self.config[self.subcommand].get("ckpt_path")
        if ckpt_path and str(ckpt_path) not in _SPECIAL_CKPT:
            read_checkpoint(ckpt_path)

    def before_fit(self) -> None:
        self._check_ckpt_path()

    def before_validate(self) -> None:
        self._check_ckpt_path()

    def before_test(self) -> None:
        self._check_ckpt_path()

    def before_predict(self) -> None:
        self._check_ckpt_path()


def run_lightning_cli(args: list[str], **kwargs: Any) -> StyleKernelCLI:
    """Run ``stylekernel <fit|validate|test|predict> ...`` with ``args``."""
    return StyleKernelCLI(
        StyleTransferModule,
        subclass_mode_model=False,
        args=args,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"prog": "stylekernel", "default_env": False},
        **kwargs,
    )
