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

import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from jsonargparse.typing import PositiveInt

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
from stylekernel.command_line import ArgumentParser, Namespace, command_parser, parse_command
from stylekernel.errors import ImageDecodeError, StyleKernelError

__all__ = ["main", "parse_source", "check_source"]

_LIST_SUFFIXES = (".txt", ".lst", ".list", ".csv")


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
    """Turn a command-line SOURCE into an :class:`ImageSource` (see the module docstring).

    Args:
        spec: a folder, a file list, .parquet files, or hf:OWNER/NAME.
        recursive: folders: also the sub-folders (--no-recursive: top level only).
        extensions: folders: image extensions.
        split: Hugging Face split.
        name: Hugging Face config name.
        image_column: Hugging Face image column.
        revision: Hugging Face revision.
        streaming: Hugging Face: stream (--no-streaming downloads instead).
    """
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
    source: ImageSource, *, workers: PositiveInt = 1, limit: int | None = None, progress: bool = True  # type: ignore[assignment]
) -> tuple[int, list[tuple[str, str]]]:
    """Decode every image of ``source``; returns ``(checked, [(key, reason), ...])`` in order.

    Args:
        source: the images.
        workers: decode in N processes.
        limit: check only the first N images.
        progress: show a progress bar (--quiet: none).
    """
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


def _cmd_check(args: Namespace) -> int:
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


def _cmd_demo(args: Namespace) -> int:
    from stylekernel.data.demo import write_demo

    written = write_demo(args.output, size=args.size, num_patterns=args.num_patterns, seed=args.seed)
    for kind, paths in written.items():
        print(f"wrote {len(paths)} {kind} images to {Path(args.output) / kind}")
    return 0


def build_parser() -> ArgumentParser:
    """``check SOURCE ...`` (the options of :func:`parse_source` and :func:`check_source`) and ``demo``
    (those of :func:`~stylekernel.data.demo.write_demo`); each takes --config / --print_config."""
    from stylekernel.data.demo import write_demo

    parser = command_parser("stylekernel data", "Check image sources; write the demo set.")
    sub = parser.add_subcommands(required=True, dest="command")
    check = command_parser("stylekernel data check", __doc__ or "")
    check.add_argument("source", nargs="+", type=str, help="folder, file list, .parquet files, or hf:OWNER/NAME")
    check.add_function_arguments(parse_source, as_group=False, skip={"spec"})
    check.add_function_arguments(check_source, as_group=False, skip={"source", "progress"})
    check.add_argument("--quiet", type=bool, default=False, help="no progress bar")
    sub.add_subcommand("check", check, help="list every undecodable image of a source")
    demo = command_parser("stylekernel data demo", "write the embedded demo set to DIR/content and DIR/style")
    demo.add_function_arguments(write_demo, as_group=False)
    sub.add_subcommand("demo", demo, help="write the embedded demo set to DIR/content and DIR/style")
    return parser


def main(argv: list[str]) -> int:
    """Entry point of ``stylekernel data``; returns the exit status."""
    parser = build_parser()
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0 if argv else 2
    args = parse_command(parser, argv)
    handler = {"check": _cmd_check, "demo": _cmd_demo}[args.command]
    return int(handler(args[args.command]))


if __name__ == "__main__":  # pragma: no cover
    try:
        sys.exit(main(sys.argv[1:]))
    except StyleKernelError as exc:
        print(f"stylekernel: error: {exc}", file=sys.stderr)
        sys.exit(2)
