"""LightningCLI entry for ``stylekernel fit|validate|test|predict``.

The model is always :class:`~stylekernel.module.StyleTransferModule`; its ``net`` (ours or a
baseline) and the DataModule are ``class_path`` entries in YAML (``configs/``). The resolved
config is saved as ``config.yaml`` in every run's log directory. A ``--ckpt_path`` that is not a
readable checkpoint is rejected with one clear line before any work starts.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

from lightning.pytorch.cli import LightningCLI

from stylekernel.checkpoint import read_checkpoint
from stylekernel.errors import capture_config_errors
from stylekernel.loggers import SaveResolvedConfig
from stylekernel.module import StyleTransferModule

_SPECIAL_CKPT = {"last", "best", "hpc", "registry"}


class StyleKernelCLI(LightningCLI):
    """LightningCLI with the suite's conventions (saved config, checkpoint validation)."""

    def instantiate_classes(self) -> None:
        """Instantiate, reporting a constructor's ConfigError itself (jsonargparse re-wraps it)."""
        with capture_config_errors() as errors:
            try:
                super().instantiate_classes()
            except (ValueError, TypeError):
                if errors:
                    raise errors[-1] from None
                raise

    def _parse_ckpt_path(self) -> None:
        """Reject a ``--ckpt_path`` that is not a readable checkpoint, then let Lightning read it."""
        subcommand = self.config.get("subcommand")
        if subcommand:
            ckpt_path = self.config[subcommand].get("ckpt_path")
            if ckpt_path and str(ckpt_path) not in _SPECIAL_CKPT:
                read_checkpoint(ckpt_path)
        super()._parse_ckpt_path()


def run_lightning_cli(args: list[str], **kwargs: Any) -> StyleKernelCLI:
    """Run ``stylekernel <fit|validate|test|predict> ...`` with ``args``."""
    # The frozen VGG encoder stays in eval mode during training on purpose.
    warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")
    # We always pass ``args`` explicitly (also when embedded, e.g. in tests).
    warnings.filterwarnings("ignore", message=r"LightningCLI's args parameter is intended")
    # The training stream is an endless IterableDataset whose __len__ is the batches per "epoch";
    # it shards itself per rank and worker, which is what this warning asks for.
    warnings.filterwarnings("ignore", message=r"Your `IterableDataset` has `__len__` defined")
    return StyleKernelCLI(
        StyleTransferModule,
        subclass_mode_model=True,
        args=None if args == sys.argv[1:] else args,
        save_config_callback=SaveResolvedConfig,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"prog": "stylekernel", "default_env": False},
        **kwargs,
    )
