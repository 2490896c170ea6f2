"""LightningCLI entry for ``stylekernel fit|validate|test|predict``.

The model is always :class:`~stylekernel.module.StyleTransferModule`; its ``net`` (ours or a
baseline) and the DataModule are ``class_path`` entries in YAML (``configs/``). The resolved
config is saved as ``config.yaml`` in every run's log directory.

Checkpoints. Every trainer reads and writes through
:class:`~stylekernel.checkpoint_io.SafeCheckpointIO` (``weights_only`` always, atomic writes). A
``--ckpt_path`` (a file, or ``last``/``best``/``hpc``/``registry`` resolved as Lightning does) is
read and checked against the configured network before the trainer starts, so a hostile,
unreadable or other-model checkpoint is one line and leaves no run folder. A checkpoint that holds
only weights and the network record (``stylekernel weights import``) starts ``fit`` from those
weights with a fresh optimiser and schedule, said in one log line.

The ``checkpoint`` group. ``fit`` saves checkpoints with one ModelCheckpoint built from the
``checkpoint:`` keys (its arguments; the suite's shared settings, :data:`CHECKPOINT_DEFAULTS`, are
the group's defaults), so a config gives only what differs: ``checkpoint: {every_n_train_steps:
200}``. Only ``fit`` gets it, and not with ``trainer.enable_checkpointing: false``. A ModelCheckpoint
still listed under ``trainer.callbacks`` (the former way) is used instead, with a FutureWarning.

Errors. A bad config value is one line naming the key, where it was set (``file:line`` or the
command line) and the reason (:mod:`stylekernel.config_errors`); the run folder is checked
writable before work starts, and a run that fails before logging anything leaves no empty
``<save_dir>/<name>/version_N`` folder.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

from jsonargparse import ArgumentError
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.rank_zero import rank_zero_info, rank_zero_warn

from stylekernel.checkpoint import check_against_module, has_training_state, read_checkpoint_or_pretrained
from stylekernel.export import is_pretrained_ref
from stylekernel.checkpoint_io import SafeCheckpointIO, install_checkpoint_io
from stylekernel.config_errors import check_yaml_files, explain_argument_error, explain_config_error
from stylekernel.errors import CheckpointError, ConfigError, capture_config_errors
from stylekernel.loggers import SaveResolvedConfig
from stylekernel.module import LEGACY_ARGUMENTS, StyleTransferModule, migrate_hparams, upgrade_legacy_flags
from stylekernel.paths import check_writable_dir

_SPECIAL_CKPT = {"last", "best", "hpc", "registry"}
_STATE_FN = {"fit": TrainerFn.FITTING, "validate": TrainerFn.VALIDATING, "test": TrainerFn.TESTING, "predict": TrainerFn.PREDICTING}
# files a run writes before it has done anything worth keeping
_SETUP_ONLY_FILES = {"config.yaml", "hparams.yaml"}
# The ``checkpoint`` group's defaults, shared by every recipe: keep every checkpoint (the configs
# set how often) and last.ckpt, which resuming reads. Configs set only what differs.
CHECKPOINT_DEFAULTS: dict[str, Any] = {"save_last": True, "save_top_k": -1}


class StyleKernelCLI(LightningCLI):
    """LightningCLI with the suite's conventions (saved config, safe checkpoints, one-line errors)."""

    _early_ckpt: tuple[str, dict[str, Any]] | None = None

    def instantiate_classes(self) -> None:
        """Instantiate, reporting a constructor's ConfigError itself (jsonargparse re-wraps it)."""
        with capture_config_errors() as errors:
            try:
                super().instantiate_classes()
            except (ValueError, TypeError):
                if errors:
                    raise errors[-1] from None
                raise

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """The ``checkpoint`` group: ModelCheckpoint's arguments, with :data:`CHECKPOINT_DEFAULTS`."""
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({f"checkpoint.{key}": value for key, value in CHECKPOINT_DEFAULTS.items()})

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """Lightning's trainer, with the ``checkpoint`` group's callback where it applies, and safe checkpoint I/O.

        The group's ModelCheckpoint goes to ``fit`` (and ``run=False``, where the caller runs the loop)
        unless ``trainer.enable_checkpointing`` is false, and unless ``trainer.callbacks`` already
        lists a ModelCheckpoint (the former way, used as it is, with a FutureWarning).
        """
        trainer_config = {**self._get(self.config_init, "trainer", default={}), **kwargs}
        keys = [key for key in self._parser(self.subcommand).callback_keys if key != "checkpoint"]
        extra_callbacks = [self._get(self.config_init, key) for key in keys]
        listed = trainer_config.get("callbacks")
        listed = [] if listed is None else listed if isinstance(listed, list) else [listed]
        if any(isinstance(cb, ModelCheckpoint) for cb in listed):
            rank_zero_warn(
                "trainer.callbacks lists a ModelCheckpoint: it is used instead of the `checkpoint:` group, and this"
                " will stop working in the next release; move its init_args to `checkpoint:` (e.g. `checkpoint:"
                " {every_n_train_steps: 200}`) and remove it from trainer.callbacks",
                category=FutureWarning,
            )
        elif self.subcommand in ("fit", None) and trainer_config.get("enable_checkpointing") is not False:
            extra_callbacks.append(self._get(self.config_init, "checkpoint"))
        trainer = self._instantiate_trainer(trainer_config, extra_callbacks)
        install_checkpoint_io(trainer)
        return trainer

    def _parse_ckpt_path(self) -> None:
        """Reject an explicit ``--ckpt_path`` that is not a readable checkpoint before anything is built."""
        subcommand = self.config.get("subcommand")
        if subcommand:
            ckpt_path = self.config[subcommand].get("ckpt_path")
            # (Lightning's own hparams reader below opens any existing file, even one named "last")
            if ckpt_path and (str(ckpt_path) not in _SPECIAL_CKPT or Path(str(ckpt_path)).is_file()):
                self._early_ckpt = (os.path.realpath(ckpt_path), read_checkpoint_or_pretrained(ckpt_path))
                if is_pretrained_ref(ckpt_path):
                    return  # an exported folder / Hub id: weights only, nothing for Lightning's hparams reader
                hparams = self._early_ckpt[1].get("hyper_parameters")
                if isinstance(hparams, dict) and any(k in LEGACY_ARGUMENTS for k in hparams):
                    self._parse_hparams(subcommand, migrate_hparams(hparams))  # written before lr etc. moved
                    return
        super()._parse_ckpt_path()

    def _parse_hparams(self, subcommand: str, hparams: dict[str, Any]) -> None:
        """Lightning's update of the config from a checkpoint's hyper-parameters (``_parse_ckpt_path``)."""
        hparams = {k: v for k, v in hparams.items() if k != "_instantiator"}
        if "_class_path" in hparams:
            hparams = {"class_path": hparams.pop("_class_path"), "dict_kwargs": hparams}
        self.config = self.parser.parse_object({subcommand: {"model": hparams}}, self.config)

    # --- running --------------------------------------------------------------------------------
    def _run_subcommand(self, subcommand: str) -> None:
        """Lightning's ``_run_subcommand`` with checkpoint checks, output checks and cleanup."""
        before_fn = getattr(self, f"before_{subcommand}", None)
        if callable(before_fn):
            before_fn()
        fn = getattr(self, subcommand, getattr(self.trainer, subcommand))
        fn_kwargs = self._prepare_subcommand_kwargs(subcommand)
        self._prepare_checkpoint(subcommand, fn_kwargs)
        new_run_dirs = self._check_run_dirs()
        try:
            fn(**fn_kwargs)
        except BaseException:
            if self.trainer.is_global_zero:
                _remove_setup_only_dirs(new_run_dirs)
            raise
        after_fn = getattr(self, f"after_{subcommand}", None)
        if callable(after_fn):
            after_fn()

    def _prepare_checkpoint(self, subcommand: str, fn_kwargs: dict[str, Any]) -> None:
        """Resolve ``ckpt_path`` as Lightning does, read it safely, check it against the model."""
        if "weights_only" in fn_kwargs:
            fn_kwargs["weights_only"] = True  # SafeCheckpointIO ignores anything else anyway
        if "ckpt_path" not in fn_kwargs:
            return
        requested = fn_kwargs["ckpt_path"]
        trainer = self.trainer
        previous_fn = trainer.state.fn
        trainer.state.fn = _STATE_FN[subcommand]  # Lightning's rules (hpc on SLURM, on-exception "last") read it
        try:
            resolved = trainer._checkpoint_connector._parse_ckpt_path(
                _STATE_FN[subcommand], requested, model_provided=True, model_connected=trainer.lightning_module is not None
            )
        except ValueError as exc:
            raise CheckpointError(f"--ckpt_path {requested}: {str(exc).strip().splitlines()[0]}") from None
        finally:
            trainer.state.fn = previous_fn
        if resolved is None:
            fn_kwargs["ckpt_path"] = None
            return
        real = os.path.realpath(resolved)
        if self._early_ckpt is not None and self._early_ckpt[0] == real:
            ckpt = self._early_ckpt[1]
        else:
            ckpt = read_checkpoint_or_pretrained(resolved)
        self._early_ckpt = None
        check_against_module(ckpt, self.model, resolved)
        if has_training_state(ckpt):
            io = trainer.strategy.checkpoint_io
            assert isinstance(io, SafeCheckpointIO)
            io.preload(resolved, ckpt)
            fn_kwargs["ckpt_path"] = str(resolved)
            return
        self.model.load_state_dict(ckpt["state_dict"])
        fn_kwargs["ckpt_path"] = None
        what = "starting from its weights with a fresh optimiser and schedule" if subcommand == "fit" else "using its weights"
        rank_zero_info(f"{resolved} holds weights only (no optimiser or loop state): {what}")

    def _check_run_dirs(self) -> list[Path]:
        """Check every output folder of the run is writable; return the run folders this run will create."""
        trainer = self.trainer
        targets = [Path(trainer.default_root_dir)]
        targets += [Path(str(lg.save_dir)) for lg in trainer.loggers if getattr(lg, "save_dir", None)]
        for cb in trainer.checkpoint_callbacks:
            if getattr(cb, "dirpath", None):
                targets.append(Path(str(cb.dirpath)))
        for target in dict.fromkeys(targets):
            check_writable_dir(target, what="run folder")
        new: list[Path] = []
        for lg in trainer.loggers:
            if isinstance(lg, (CSVLogger, TensorBoardLogger)):
                log_dir = Path(lg.log_dir)
                if not log_dir.exists():
                    new.append(log_dir)
        return new


def _remove_setup_only_dirs(run_dirs: list[Path]) -> None:
    """Remove run folders (created by this run) that hold nothing but setup files, and empty parents."""
    for run_dir in run_dirs:
        if not run_dir.is_dir():
            continue
        files = [p for p in run_dir.rglob("*") if p.is_file()]
        if any(p.name not in _SETUP_ONLY_FILES and p.stat().st_size > 0 for p in files):
            continue
        shutil.rmtree(run_dir, ignore_errors=True)
        parent = run_dir.parent
        try:
            parent.rmdir()  # only when empty
        except OSError:
            pass


def run_lightning_cli(args: list[str], **kwargs: Any) -> StyleKernelCLI:
    """Run ``stylekernel <fit|validate|test|predict> ...`` with ``args``."""
    # The frozen VGG encoder stays in eval mode during training on purpose.
    warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")
    # We always pass ``args`` explicitly (also when embedded, e.g. in tests).
    warnings.filterwarnings("ignore", message=r"LightningCLI's args parameter is intended")
    # The training stream is an endless IterableDataset whose __len__ is the batches per "epoch";
    # it shards itself per rank and worker, which is what this warning asks for.
    warnings.filterwarnings("ignore", message=r"Your `IterableDataset` has `__len__` defined")
    args = upgrade_legacy_flags(args)  # --model.init_args.lr etc., deprecated
    check_yaml_files(args)
    try:
        return StyleKernelCLI(
            StyleTransferModule,
            subclass_mode_model=True,
            auto_configure_optimizers=False,  # the module's optimizer / lr_scheduler arguments instead
            args=None if args == sys.argv[1:] else args,
            save_config_callback=SaveResolvedConfig,
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"prog": "stylekernel", "default_env": False, "exit_on_error": False},
            **kwargs,
        )
    except ArgumentError as exc:
        raise ConfigError(explain_argument_error(exc, args)) from None
    except ConfigError as exc:
        if type(exc) is not ConfigError:
            raise
        raise ConfigError(explain_config_error(str(exc), args)) from None
