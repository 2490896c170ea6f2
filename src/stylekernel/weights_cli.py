"""``stylekernel weights list|download|import``: inspect and prefetch every pretrained file, and
turn a peer's released files into a suite checkpoint."""

from __future__ import annotations

import argparse
import json
import sys

from stylekernel import weights
from stylekernel.errors import WeightsNotFoundError


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="stylekernel weights",
        description=f"Pretrained weight files (cache: $STYLEKERNEL_CACHE or torch hub's checkpoints dir; now {weights.cache_dir()}).",
    )
    sub = parser.add_subparsers(dest="action", required=True)
    ls = sub.add_parser("list", help="show every known file and whether it is cached")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    dl = sub.add_parser("download", help="download files into the cache (all by default)")
    dl.add_argument("names", nargs="*", choices=[[], *weights.REGISTRY], help="files to fetch (default: all)")
    dl.add_argument("--force", action="store_true", help="download again even if cached")
    _add_import_parser(sub)
    args = parser.parse_args(argv)
    if args.action == "import":
        return _import(args)

    if args.action == "list":
        rows = weights.listing()
        if args.json:
            print(json.dumps(rows, indent=2))
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

    return _download(args.names or list(weights.REGISTRY), force=args.force)


def _download(names: list[str], *, force: bool) -> int:
    """Try every name; print each file fetched; end with one line naming what failed and why (exit 2)."""
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


def _add_import_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """``import METHOD --output FILE.ckpt --PART PATH ... [--folder DIR]``, one sub-parser per method."""
    from stylekernel.released import releases

    imp = sub.add_parser("import", help="turn a peer's released files into a suite checkpoint")
    methods = imp.add_subparsers(dest="method", required=True, metavar="METHOD")
    for name, release in sorted(releases().items()):
        m = methods.add_parser(name, help=f"{release.source}", description=f"Import {name}'s released model ({release.source}).")
        m.add_argument("--output", required=True, help="checkpoint to write (.ckpt); written atomically")
        for part, file_name in release.parts.items():
            m.add_argument(f"--{part}", dest=f"part_{part}", metavar="PATH", help=f"the peer's {file_name}")
        if release.folder_layout is not None:
            m.add_argument("--folder", help="release folder holding " + ", ".join(release.folder_layout.values()))


def _import(args: argparse.Namespace) -> int:
    from stylekernel.released import get_release, import_release, resolve_files

    release = get_release(args.method)
    given = {part: getattr(args, f"part_{part}") for part in release.parts}
    files = resolve_files(args.method, given, getattr(args, "folder", None))
    out = import_release(args.method, files, args.output)
    print(f"{args.method}: wrote {out}")
    return 0
