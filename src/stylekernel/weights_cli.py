"""``stylekernel weights list|download``: inspect and prefetch every pretrained file."""

from __future__ import annotations

import argparse
import json

from stylekernel import weights


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
    args = parser.parse_args(argv)

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
        return 0

    names = args.names or list(weights.REGISTRY)
    for name in names:
        path = weights.download(name, force=args.force)
        print(f"{name}: {path}")
    return 0
