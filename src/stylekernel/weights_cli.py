"""``stylekernel weights list|download``: inspect and prefetch every pretrained file."""

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
