"""``stylekernel export CKPT --output DIR``: a checkpoint as a Hub-style folder (see :mod:`stylekernel.export`).

    stylekernel export runs/x/version_0/checkpoints/last.ckpt --output release/ --eval-summary eval/summary.json
    huggingface-cli upload owner/name release/      # then: Stylizer.from_pretrained("owner/name")
"""

from __future__ import annotations

import argparse

from stylekernel import export


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="stylekernel export",
        description="Write a checkpoint (from `stylekernel fit` or `stylekernel weights import`) as a folder of "
                    f"{export.WEIGHTS_FILE}, {export.CONFIG_FILE} and a {export.CARD_FILE} model card; "
                    "load it with Stylizer.from_pretrained or any --checkpoint option.",
    )
    parser.add_argument("checkpoint", help="the .ckpt file to export")
    parser.add_argument("--output", required=True, help="the folder to write (must not exist or be empty, unless --overwrite)")
    parser.add_argument("--eval-summary", default=None, help="a `stylekernel evaluate` summary.json to put in the model card")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --output folder")
    args = parser.parse_args(argv)
    out = export.export(args.checkpoint, args.output, eval_summary=args.eval_summary, overwrite=args.overwrite)
    print(f"wrote {out}: " + ", ".join(sorted(p.name for p in out.iterdir())))
    return 0
