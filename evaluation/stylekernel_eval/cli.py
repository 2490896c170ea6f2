"""``stylekernel evaluate``: score a checkpoint's stylisations, or a folder of any method's.

Examples::

    stylekernel evaluate --checkpoint last.ckpt --content-dir C --style-dir S --size 512 --output out
    stylekernel evaluate --preset paper --checkpoint last.ckpt --content-dir C --style-dir S --devices 2
    stylekernel evaluate --stylized-dir X --content-dir C --style-dir S --output out

Options are the fields of :class:`stylekernel_eval.protocol.EvalConfig` (``--content-dir`` for
``content_dir``; booleans as ``--save-images`` / ``--no-save-images``; ``none`` for a null
value). Precedence: EvalConfig defaults < each ``--preset``/``--config`` in order < flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import typing
from typing import Any, Sequence

from stylekernel_eval.protocol import CHOICES, EvalConfig, build_config, load_overrides


def _optional(parse: Any) -> Any:
    def convert(text: str) -> Any:
        return None if text.lower() in ("none", "null") else parse(text)

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, generated from the EvalConfig fields (defaults stay in EvalConfig)."""
    parser = argparse.ArgumentParser(
        prog="stylekernel evaluate",
        description="LPIPS, FID/ArtFID, content/style loss, SSIM and timing of stylisations.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("--preset", "--config", dest="presets", action="append", metavar="NAME_OR_YAML",
                        help="a preset in configs/eval/ (e.g. paper) or a YAML file of options; repeatable")
    hints = typing.get_type_hints(EvalConfig)
    defaults = EvalConfig()
    for f in dataclasses.fields(EvalConfig):
        flag = "--" + f.name.replace("_", "-")
        hint = hints[f.name]
        args = typing.get_args(hint)
        nullable = type(None) in args
        base = next((a for a in args if a is not type(None)), hint) if nullable else hint
        default = getattr(defaults, f.name)
        help_text = f"(default: {default})"
        if base is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, help=help_text)
        elif typing.get_origin(base) is list:
            parser.add_argument(flag, nargs="+", type=int, help=help_text)
        elif f.name in CHOICES:
            parser.add_argument(flag, choices=CHOICES[f.name], help=help_text)
        else:
            conv = int if base is int else float if base is float else str
            parser.add_argument(flag, type=_optional(conv) if nullable else conv, help=help_text)
    return parser


def parse_config(argv: Sequence[str]) -> EvalConfig:
    """argv -> a validated EvalConfig (presets first, then flags)."""
    ns = vars(build_parser().parse_args(list(argv)))
    layers = [load_overrides(p) for p in ns.pop("presets", [])]
    return build_config(*layers, ns).validate()


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
