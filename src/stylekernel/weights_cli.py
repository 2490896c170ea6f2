"""``stylekernel weights list|download|import``: inspect and prefetch every pretrained file, and
turn a peer's released files into a suite checkpoint."""

from __future__ import annotations

import json as json_module
import sys
from typing import Literal, Optional

from jsonargparse import SUPPRESS

from stylekernel import weights
from stylekernel.command_line import ArgumentParser, Namespace, command_parser, parse_command
from stylekernel.errors import WeightsNotFoundError

PROG = "stylekernel weights"


def list_files(*, json: bool = False) -> int:
    """Show every known file and whether it is cached.

    Args:
        json: machine-readable output.
    """
    rows = weights.listing()
    if json:
        print(json_module.dumps(rows, indent=2))
        return 0
    print(f"cache: {weights.cache_dir()}")
    for r in rows:
        state = f"cached {r['size_mb']} MB" if r["cached"] else "missing"
        print(f"  {r['name']:<15} {state:<18} {r['used_by']}")
        if not r["cached"]:
            print(f"  {'':<15} {r['url']}")
    print("peer releases (not downloaded; `stylekernel weights import METHOD` turns them into a checkpoint):")
    for p in weights.peer_listing():
        print(f"  {p['method']:<15} {p['source']}")
        for part, name in p["files"].items():
            digest = p["sha256"].get(name)
            print(f"  {'':<15} --{part} {name}" + (f"  sha256 {digest}" if digest else ""))
    return 0


def build_parser() -> ArgumentParser:
    """``list [--json]``, ``download [NAME ...] [--force]``, ``import METHOD ...``; each takes --config / --print_config."""
    parser = command_parser(
        PROG, f"Pretrained weight files (cache: $STYLEKERNEL_CACHE or torch hub's checkpoints dir; now {weights.cache_dir()})."
    )
    sub = parser.add_subcommands(required=True, dest="action")
    ls = command_parser(f"{PROG} list", "show every known file and whether it is cached")
    ls.add_function_arguments(list_files, as_group=False)
    sub.add_subcommand("list", ls, help="show every known file and whether it is cached")
    dl = command_parser(f"{PROG} download", "download files into the cache (all by default)")
    dl.add_argument("names", nargs="*", type=Literal[tuple(weights.REGISTRY)], default=SUPPRESS, help="files to fetch (default: all)")
    dl.add_function_arguments(download_files, as_group=False, skip={"names"})
    sub.add_subcommand("download", dl, help="download files into the cache (all by default)")
    _add_import_parser(sub)
    return parser


def main(argv: list[str]) -> int:
    args = parse_command(build_parser(), argv)
    if args.action == "import":
        return _import(args["import"])
    if args.action == "list":
        return list_files(json=args.list.json)
    chosen = args.download.get("names") or list(weights.REGISTRY)
    return download_files(chosen, force=args.download.force)


def download_files(names: list[str], *, force: bool = False) -> int:
    """Try every name; print each file fetched; end with one line naming what failed and why (exit 2).

    Args:
        names: registry names of the files to fetch.
        force: download again even if cached.
    """
    failed: dict[str, str] = {}
    for name in names:
        try:
            print(f"{name}: {weights.download(name, force=force)}", flush=True)
        except WeightsNotFoundError as exc:
            failed[name] = exc.reason
    if not failed:
        return 0
    reasons = set(failed.values())
    if len(reasons) == 1:
        detail = f"{', '.join(failed)} ({reasons.pop()})"
    else:
        detail = "; ".join(f"{n} ({why})" for n, why in failed.items())
    print(f"stylekernel weights: error: {len(failed)} of {len(names)} file(s) not downloaded: {detail}", file=sys.stderr)
    return 2


def _add_import_parser(sub: "object") -> None:
    """``import METHOD --output FILE.ckpt --PART PATH ... [--folder DIR]``, one sub-parser per method."""
    from stylekernel.released import releases

    imp = command_parser(f"{PROG} import", "turn a peer's released files into a suite checkpoint")
    sub.add_subcommand("import", imp, help="turn a peer's released files into a suite checkpoint")  # type: ignore[attr-defined]
    methods = imp.add_subcommands(required=True, dest="method")
    for name, release in sorted(releases().items()):
        m = command_parser(f"{PROG} import {name}", f"Import {name}'s released model ({release.source}).")
        m.add_argument("--output", type=str, required=True, help="checkpoint to write (.ckpt); written atomically")
        for part, file_name in release.parts.items():
            m.add_argument(f"--{part}", type=Optional[str], metavar="PATH", help=f"the peer's {file_name}")
        if release.folder_layout is not None:
            m.add_argument("--folder", type=Optional[str], help="release folder holding " + ", ".join(release.folder_layout.values()))
        methods.add_subcommand(name, m, help=f"{release.source}")


def _import(args: Namespace) -> int:
    from stylekernel.released import get_release, import_release, resolve_files

    method = args.method
    options = args[method]
    release = get_release(method)
    given = {part: options.get(part) for part in release.parts}
    files = resolve_files(method, given, options.get("folder"))
    out = import_release(method, files, options.output)
    print(f"{method}: wrote {out}")
    return 0
