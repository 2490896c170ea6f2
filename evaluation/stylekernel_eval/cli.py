"""``stylekernel evaluate``: score a checkpoint's stylizations, or a folder of any method's.

Examples::

    stylekernel evaluate --checkpoint last.ckpt --content-dir C --style-dir S --size 512 --output out
    stylekernel evaluate --preset paper --checkpoint last.ckpt --content-dir C --style-dir S --devices 2
    stylekernel evaluate --stylized-dir X --content-dir C --style-dir S --output out
    stylekernel evaluate --checkpoint last.ckpt --data runs/x/version_0/config.yaml --output out  # a run's test set

Options are the fields of :class:`stylekernel_eval.protocol.EvalConfig` (their defaults live
there only), parsed by jsonargparse (:mod:`stylekernel.command_line`): ``--content_dir`` or
``--content-dir``; booleans as ``--save-images`` / ``--no-save-images``; ``none`` or ``null``
for a null value; ``--print_config`` prints the resolved options as YAML, which ``--config``
reads back. ``--preset NAME`` is ``--config`` with a shipped preset (``presets/NAME.yaml``).
Precedence: EvalConfig defaults < each ``--preset``/``--config`` in order < flags.

``--data`` takes a DataModule config as ``fit`` does: a YAML file holding a ``data:`` entry (a
``configs/data/`` fragment, or a run's saved ``config.yaml``), a ``class_path``/``init_args``
file, or ``--data.class_path ... --data.init_args.x ...``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Sequence

import yaml

from stylekernel.command_line import ArgumentParser, command_parser, parse_command
from stylekernel.errors import ConfigError
from stylekernel_eval.protocol import EvalConfig, preset_files, preset_path


def _config_tokens(value: str | None) -> list[str]:
    if value is None:
        raise ConfigError("--preset / --config needs a preset name or a YAML file")
    return ["--config", str(preset_path(value))]


def _data_tokens(value: str | None) -> list[str]:
    """``--data FILE`` with a ``data:`` entry (a fit config or fragment) -> that entry; else as given."""
    if value is None:
        return ["--data"]
    path = Path(value).expanduser()
    if path.is_file():
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8", errors="replace"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"--data {value}: YAML syntax error: {getattr(exc, 'problem', None) or exc}") from None
        if isinstance(loaded, dict) and "data" in loaded:
            return [f"--data={json.dumps(loaded['data'])}"]
    return [f"--data={value}"]


_SPECIAL = {"preset": _config_tokens, "config": _config_tokens, "data": _data_tokens}


def build_parser() -> ArgumentParser:
    """The argument parser: the EvalConfig fields (defaults stay in EvalConfig) and ``--data``."""
    from lightning.pytorch import LightningDataModule

    parser = command_parser(
        "stylekernel evaluate",
        "LPIPS, FID/ArtFID, content/style loss, SSIM and timing of stylizations. "
        f"--preset NAME (repeatable) is --config with a shipped preset ({', '.join(preset_files())}).",
    )
    parser.add_class_arguments(EvalConfig, nested_key=None, as_group=False, skip={"data"})
    parser.add_subclass_arguments(LightningDataModule, "data", required=False,
                                  help="a DataModule whose held-out test_pairs() are scored (class_path/init_args, as in fit)")
    return parser


def parse_config(argv: Sequence[str]) -> EvalConfig:
    """argv -> a validated EvalConfig (presets and configs first, then flags)."""
    ns = parse_command(build_parser(), argv, special=_SPECIAL)
    values: dict[str, Any] = {k: ns[k] for k in EvalConfig.__dataclass_fields__ if k != "data"}
    data = ns.get("data")
    values["data"] = None if data is None else json.loads(json.dumps(data.as_dict(), default=str))
    return EvalConfig(**values).validate()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``stylekernel evaluate``; user errors propagate as StyleKernelError."""
    import sys

    config = parse_config(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from stylekernel_eval.runner import evaluate

    summary = evaluate(config)
    from stylekernel_eval.report import SUMMARY_JSON, render_markdown

    print(render_markdown(summary))
    print(f"reports written to {config.output}/ ({SUMMARY_JSON}, per_pair.csv, summary.md)")
    return 0
