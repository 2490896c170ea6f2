"""``stylekernel data``: check image sources, write the embedded demo set.

::

    stylekernel data check SOURCE [--workers N] [--no-recursive] [--extensions .jpg .png]
                                  [--split train] [--name CONFIG] [--image-column image]
                                  [--revision REV] [--no-streaming] [--limit N]
    stylekernel data demo --output DIR [--size 256]

``SOURCE`` is a folder (checked recursively), a text file list (one path per line), one or
more ``.parquet`` files, or a Hugging Face data set written ``hf:OWNER/NAME``. ``check`` decodes
every image at full resolution (with a tqdm progress bar on stderr), prints one line
``KEY: REASON`` per undecodable image on stdout, a summary, and exits 1 if any failed, else 0.
Bad usage prints one line (``stylekernel: error: ...``) and exits 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from stylekernel.image_files import IMAGE_EXTENSIONS
from stylekernel.data.hf_source import HFSource
from stylekernel.data.sources import (
    FileListSource,
    FolderSource,
    ImageSource,
    IndexedSource,
    Record,
    StreamingSource,
    decode_record,
)
from stylekernel.errors import ImageDecodeError, StyleKernelError

__all__ = ["main", "parse_source", "check_source"]

_LIST_SUFFIXES = (".txt", ".lst", ".list", ".csv")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one :class:`StyleKernelError` line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise StyleKernelError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def parse_source(
    spec: Sequence[str],
    *,
    recursive: bool = True,
    extensions: Sequence[str] = IMAGE_EXTENSIONS,
    split: str = "train",
    name: str | None = None,
    image_column: str = "image",
    revision: str | None = None,
    streaming: bool = True,
) -> ImageSource:
    """Turn a command-line SOURCE into an :class:`ImageSource` (see the module docstring)."""
    if not spec:
        raise StyleKernelError("no SOURCE given: pass a folder, a file list, .parquet files or hf:OWNER/NAME")
    first = spec[0]
    hf_options = dict(split=split, name=name, image_column=image_column, revision=revision, streaming=streaming)
    if first.startswith("hf:"):
        if len(spec) > 1:
            raise StyleKernelError("give a single hf:OWNER/NAME source")
        return HFSource(first[3:], **hf_options)  # type: ignore[arg-type]
    if all(s.endswith(".parquet") for s in spec):
        missing = [s for s in spec if not Path(s).is_file()]
        if missing:
            raise StyleKernelError(f"parquet file {missing[0]} does not exist")
        return HFSource("parquet", data_files={split: list(spec)}, **hf_options)  # type: ignore[arg-type]
    if len(spec) > 1:
        raise StyleKernelError("give one folder or file list (several SOURCE values are for .parquet files only)")
    path = Path(first).expanduser()
    if path.is_dir():
        return FolderSource(path, extensions=extensions, recursive=recursive)
    if path.is_file() and path.suffix.lower() in _LIST_SUFFIXES:
        return FileListSource(path)
    if path.is_file():
        raise StyleKernelError(
            f"{path} is a single file; SOURCE must be a folder, a file list ({', '.join(_LIST_SUFFIXES)}), "
            ".parquet files or hf:OWNER/NAME"
        )
    raise StyleKernelError(f"source {first} does not exist (folder, file list, .parquet or hf:OWNER/NAME)")


def _check_one(record: Record) -> tuple[str, str | None]:
    try:
        decode_record(record)
    except ImageDecodeError as exc:
        return record.key, exc.reason
    return record.key, None


def _check_path(item: tuple[str, str]) -> tuple[str, str | None]:
    from stylekernel.image_files import load_image

    key, path = item
    try:
        load_image(path, name=key)
    except ImageDecodeError as exc:
        return key, exc.reason
    return key, None


def _indexed_items(source: IndexedSource) -> Iterator[tuple[str, str]] | None:
    if isinstance(source, (FolderSource, FileListSource)):
        keys = source.keys()
        return ((keys[i], str(source.path(i))) for i in range(len(keys)))
    return None


def check_source(
    source: ImageSource, *, workers: int = 1, limit: int | None = None, progress: bool = True
) -> tuple[int, list[tuple[str, str]]]:
    """Decode every image of ``source``; returns ``(checked, [(key, reason), ...])`` in order."""
    from tqdm import tqdm

    source.validate()
    failures: list[tuple[str, str]] = []
    total: int | None = None
    if isinstance(source, IndexedSource) and not (isinstance(source, StreamingSource) and source.streaming):
        total = len(source)
        path_items = _indexed_items(source)
        if path_items is not None:
            items: Iterator[object] = path_items
            fn = _check_path
        else:
            items = (source.record(i) for i in range(total))
            fn = _check_one  # type: ignore[assignment]
    else:
        assert isinstance(source, StreamingSource)
        items = iter(source.iter_records())
        fn = _check_one  # type: ignore[assignment]
    if limit is not None:
        total = min(total, limit) if total is not None else limit
        items = (item for _, item in zip(range(limit), items))
    checked = 0
    bar = tqdm(total=total, unit="img", desc=f"checking {source.describe()}", disable=not progress, file=sys.stderr)
    try:
        if workers > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                results = pool.map(fn, items, chunksize=16)  # type: ignore[arg-type]
                for key, reason in results:
                    checked += 1
                    bar.update(1)
                    if reason is not None:
                        failures.append((key, reason))
        else:
            for item in items:
                key, reason = fn(item)  # type: ignore[arg-type]
                checked += 1
                bar.update(1)
                if reason is not None:
                    failures.append((key, reason))
    finally:
        bar.close()
    return checked, failures


def _cmd_check(args: argparse.Namespace) -> int:
    source = parse_source(
        args.source,
        recursive=args.recursive,
        extensions=args.extensions,
        split=args.split,
        name=args.name,
        image_column=args.image_column,
        revision=args.revision,
        streaming=args.streaming,
    )
    checked, failures = check_source(source, workers=args.workers, limit=args.limit, progress=not args.quiet)
    for key, reason in failures:
        print(f"{key}: {reason}")
    print(f"checked {checked} images in {source.describe()}: {len(failures)} undecodable")
    return 1 if failures else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from stylekernel.data.demo import write_demo

    written = write_demo(args.output, size=args.size)
    for kind, paths in written.items():
        print(f"wrote {len(paths)} {kind} images to {Path(args.output) / kind}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="stylekernel data", description="Check image sources; write the demo set.")
    sub = parser.add_subparsers(dest="command", metavar="{check,demo}", parser_class=_Parser)
    check = sub.add_parser("check", help="list every undecodable image of a source", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("source", nargs="+", help="folder, file list, .parquet files, or hf:OWNER/NAME")
    check.add_argument("--workers", type=int, default=1, help="decode in N processes (default 1)")
    check.add_argument("--no-recursive", dest="recursive", action="store_false", help="folders: top level only")
    check.add_argument("--extensions", nargs="+", default=list(IMAGE_EXTENSIONS), help="folders: image extensions")
    check.add_argument("--split", default="train", help="Hugging Face split (default train)")
    check.add_argument("--name", default=None, help="Hugging Face config name")
    check.add_argument("--image-column", default="image", help="Hugging Face image column (default image)")
    check.add_argument("--revision", default=None, help="Hugging Face revision")
    check.add_argument("--no-streaming", dest="streaming", action="store_false", help="download instead of streaming")
    check.add_argument("--limit", type=int, default=None, help="check only the first N images")
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    check.set_defaults(func=_cmd_check)
    demo = sub.add_parser("demo", help="write the embedded demo set to DIR/content and DIR/style")
    demo.add_argument("--output", required=True, help="output folder")
    demo.add_argument("--size", type=int, default=256, help="shorter side of the written images (default 256)")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str]) -> int:
    """Entry point of ``stylekernel data``; returns the exit status."""
    parser = _parser()
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0 if argv else 2
    args = parser.parse_args(argv)
    if getattr(args, "workers", 1) < 1:
        raise StyleKernelError("stylekernel data check: --workers must be >= 1")
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    try:
        sys.exit(main(sys.argv[1:]))
    except StyleKernelError as exc:
        print(f"stylekernel: error: {exc}", file=sys.stderr)
        sys.exit(2)
