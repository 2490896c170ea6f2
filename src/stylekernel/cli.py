"""The ``stylekernel`` command.

``fit | validate | test | predict`` are LightningCLI subcommands (configs in ``configs/``);
``stylize | evaluate | weights | data | export`` are the suite's own tools, each a ``main(argv) -> int``
in its own module, each on jsonargparse too (``--config``, ``--print_config``; see
:mod:`stylekernel.command_line`). User errors (bad paths, bad files, bad config values) print one line
``stylekernel: error: ...`` and exit with status 2, never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from typing import Callable, Sequence

from stylekernel.errors import StyleKernelError

LIGHTNING_COMMANDS = {
    "fit": "train a model (LightningCLI; --config configs/...yaml)",
    "validate": "run one validation epoch",
    "test": "run the test loop",
    "predict": "stylize a dataset with a prediction writer (large batch jobs, many GPUs)",
}
TOOL_COMMANDS = {
    "stylize": ("stylekernel.stylize_cli", "stylize images or folders of any size with a checkpoint"),
    "evaluate": ("stylekernel_eval.cli", "LPIPS, FID/ArtFID, content/style loss, SSIM, timing"),
    "weights": ("stylekernel.weights_cli", "list or prefetch pretrained weight files"),
    "data": ("stylekernel.data.cli", "check image sources, build the embedded demo set"),
    "export": ("stylekernel.export_cli", "write a checkpoint as a Hub-style folder (safetensors, config, model card)"),
}


def _usage() -> str:
    lines = ["usage: stylekernel <command> [options]", "", "commands:"]
    for name, text in LIGHTNING_COMMANDS.items():
        lines.append(f"  {name:<10} {text}")
    for name, (_, text) in TOOL_COMMANDS.items():
        lines.append(f"  {name:<10} {text}")
    lines += ["", "`stylekernel <command> --help` shows a command's options."]
    return "\n".join(lines)


def _tool(name: str) -> Callable[[list[str]], int]:
    module_name, _ = TOOL_COMMANDS[name]
    return importlib.import_module(module_name).main  # type: ignore[no-any-return]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    command = args[0]
    try:
        if command in TOOL_COMMANDS:
            try:
                return int(_tool(command)(args[1:]) or 0)
            except SystemExit as exc:  # --help and --print_config (jsonargparse) exit after printing
                if exc.code in (0, None):
                    return 0
                raise
        if command in LIGHTNING_COMMANDS or command.startswith("-"):
            from stylekernel.lightning_cli import run_lightning_cli

            run_lightning_cli(args)
            return 0
    except StyleKernelError as exc:
        message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())  # one line, always
        print(f"stylekernel: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stylekernel: interrupted", file=sys.stderr)
        return 130
    print(f"stylekernel: error: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
