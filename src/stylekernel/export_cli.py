"""``stylekernel export CKPT --output DIR``: a checkpoint as a Hub-style folder (see :mod:`stylekernel.export`).

    stylekernel export runs/x/version_0/checkpoints/last.ckpt --output release/ --eval-summary eval/summary.json
    huggingface-cli upload owner/name release/      # then: Stylizer.from_pretrained("owner/name")

The options are those of :func:`stylekernel.export.export` (``--output``, ``--eval-summary``,
``--overwrite``); ``--config`` / ``--print_config`` as every command.
"""

from __future__ import annotations

from stylekernel import export
from stylekernel.command_line import ArgumentParser, command_parser, parse_command


def build_parser() -> ArgumentParser:
    """CHECKPOINT (positional) and the keyword options of :func:`stylekernel.export.export`."""
    parser = command_parser(
        "stylekernel export",
        "Write a checkpoint (from `stylekernel fit` or `stylekernel weights import`) as a folder of "
        f"{export.WEIGHTS_FILE}, {export.CONFIG_FILE} and a {export.CARD_FILE} model card; "
        "load it with Stylizer.from_pretrained or any --checkpoint option.",
    )
    parser.add_argument("checkpoint", type=str, help="the .ckpt file to export")
    parser.add_function_arguments(export.export, as_group=False, skip={"checkpoint"})
    return parser


def main(argv: list[str]) -> int:
    args = parse_command(build_parser(), argv)
    out = export.export(args.checkpoint, args.output, eval_summary=args.eval_summary, overwrite=args.overwrite)
    print(f"wrote {out}: " + ", ".join(sorted(p.name for p in out.iterdir())))
    return 0
