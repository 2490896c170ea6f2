"""``stylekernel stylize``: stylize an image, or every content x style pair of two folders.

    stylekernel stylize --checkpoint model.ckpt --content photo.jpg --style painting.jpg --output out.png
    stylekernel stylize --checkpoint model.ckpt --content photos/ --style paintings/ --output out/
    stylekernel stylize ... --style a.jpg --style b.jpg --style-weights 0.7 0.3   # blend two styles
    stylekernel stylize ... --style a.jpg --style b.jpg --mask mask.png           # a on white, b on black

Modes. With a file as ``--content`` and files as ``--style``, one image is written to
``--output`` (a file path, or an existing folder: then ``<content>__<style>.png`` inside it).
When ``--content`` or ``--style`` is a folder, every content image is stylized with every style
image and ``--output`` is a folder (created if needed) of ``<content>__<style>.png`` files; a
progress bar runs on stderr and a summary line reports written / skipped / failed counts. Folders
are not searched recursively; files are taken by image extension (case-insensitive, see
:func:`stylekernel.image_files.list_images`); an id is the file name without its extension, or
the whole name with dots replaced by ``_`` when two files share a stem
(:func:`~stylekernel.image_files.assign_ids`); names follow
:func:`~stylekernel.image_files.stylized_name`, which ``stylekernel evaluate --stylized-dir`` reads back.
Several ``--style`` values are blended (each must be a file); their output name joins the style
ids with ``+``.

Failure rules. Bad input (missing path, undecodable image, a checkpoint that is not one, bad
option values) prints one line ``stylekernel stylize: error: ...`` and exits 2. Existing outputs
are never replaced without ``--overwrite``: in single mode that is an error, in folder mode the
pair is skipped (so an interrupted batch can be resumed). In folder mode a pair that fails is
reported on one line and counted, the others still run, and the exit status is 1 if any failed.
Outputs are written atomically (temporary file + rename), so no partial file is ever left, and
checked writable before the checkpoint is loaded. Input images beyond the pixel budget
(``--max-pixels``, see :func:`stylekernel.image_files.max_pixels`) are refused before decoding.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Optional, Sequence

from jsonargparse.typing import ClosedUnitInterval, NonNegativeInt

from stylekernel.color import ColorMode
from stylekernel.command_line import ArgumentParser, Namespace, command_parser, parse_command
from stylekernel.engine import DEFAULT_ALPHA, DEFAULT_DEVICE, DEFAULT_PRECISION, DEFAULT_QUERY_CHUNK_SIZE, DEFAULT_TILE_SIZE, Precision
from stylekernel.errors import ConfigError, StyleKernelError
from stylekernel.image_files import OUTPUT_FORMATS, assign_ids, is_image_name, save_image, scan_images, stylized_name
from stylekernel.inference import DEFAULT_KEEP_ALPHA, DEFAULT_MAX_SIDE, DEFAULT_PRESERVE_COLOR, DEFAULT_STYLE_SIZE

if TYPE_CHECKING:
    from stylekernel.inference import Stylizer

log = logging.getLogger(__name__)
PROG = "stylekernel stylize"


# --- arguments --------------------------------------------------------------------------------
@dataclass
class StylizeOptions:
    """The options of ``stylekernel stylize`` (also ``--config`` keys). The defaults of those the
    Stylizer and the engine share are theirs (``DEFAULT_*`` of :mod:`stylekernel.engine` and
    :mod:`stylekernel.inference`); the others (format, overwrite, ...) live here.

    Attributes:
        checkpoint: checkpoint written by `stylekernel fit`, or a `stylekernel export` folder / Hub id.
        content: content image file or folder.
        style: style image file(s) or one folder; several files are blended (repeat --style).
        output: output file (single image) or folder.
        alpha: content/style trade-off in feature space, 0..1 (1: full style).
        style_weights: blend weights, one per --style (normalised to sum 1; default equal).
        mask: gray mask image: 1 style: white = stylized; n styles: white = style 1, black = style n.
        preserve_color: keep the content's colours: luminance-only transfer (what --preserve-color
            without a value means) or colour-histogram matching of the style.
        style_size: shorter side of style images, longer side <= 4x; 0 or null keeps their size.
        max_side: downscale content whose longer side exceeds this; 0 or null: never.
        max_pixels: refuse input images with more pixels than this, before decoding them (null:
            $STYLEKERNEL_MAX_PIXELS, else sized to this machine's memory).
        device: cpu, cuda, cuda:N, mps or auto.
        precision: autocast precision.
        tile_size: encoder/transform/decoder tile side in pixels, exact overlap tiling; 0 or null disables.
        query_chunk_size: content positions per attention chunk (null: the checkpoint's).
        format: output format in folder mode.
        keep_alpha: keep the content's transparency (--no-keep-alpha flattens it on white).
        overwrite: replace existing outputs.
        quiet: no progress bar.
    """

    checkpoint: str
    content: str
    style: list[str]
    output: str
    alpha: ClosedUnitInterval = DEFAULT_ALPHA  # type: ignore[assignment]
    style_weights: Optional[list[float]] = None
    mask: Optional[str] = None
    preserve_color: ColorMode = DEFAULT_PRESERVE_COLOR
    style_size: Optional[NonNegativeInt] = DEFAULT_STYLE_SIZE  # type: ignore[assignment]
    max_side: Optional[NonNegativeInt] = DEFAULT_MAX_SIDE  # type: ignore[assignment]
    max_pixels: Optional[NonNegativeInt] = None
    device: str = DEFAULT_DEVICE
    precision: Precision = DEFAULT_PRECISION
    tile_size: Optional[NonNegativeInt] = DEFAULT_TILE_SIZE  # type: ignore[assignment]
    query_chunk_size: Optional[NonNegativeInt] = DEFAULT_QUERY_CHUNK_SIZE  # type: ignore[assignment]
    format: Literal["png", "jpg", "webp", "tif"] = "png"
    keep_alpha: bool = DEFAULT_KEEP_ALPHA
    overwrite: bool = False
    quiet: bool = False


#: options where 0 means "none" (as documented since the first release)
_ZERO_IS_NONE = ("style_size", "max_side", "max_pixels", "tile_size", "query_chunk_size")
#: ``--preserve-color`` without a value means luminance
_SPECIAL = {"preserve_color": lambda value: [f"--preserve_color={value or 'luminance'}"]}


def build_parser() -> ArgumentParser:
    """The argument parser (also used by the docs): the fields of :class:`StylizeOptions`."""
    parser = command_parser(PROG, "Stylize images or folders of any size with a trained checkpoint.")
    parser.add_class_arguments(StylizeOptions, nested_key=None, as_group=False)
    return parser


def parse_args(argv: Sequence[str]) -> Namespace:
    """argv -> the options (``args.style`` a list, 0 -> None where documented); ConfigError on bad values."""
    args = parse_command(build_parser(), argv, special=_SPECIAL)
    for name in _ZERO_IS_NONE:
        if args[name] == 0:
            args[name] = None
    return args


# --- jobs -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """One output image: a content file, the style file(s) blended into it, and the output path."""

    content: Path
    styles: tuple[Path, ...]
    output: Path


def _check_input(path: Path, what: str) -> None:
    if not path.exists():
        raise ConfigError(f"{what} {path} does not exist")
    if path.is_dir() and is_image_name(path):
        raise ConfigError(f"{what} {path} is a directory, not an image file")


def _expand(path: Path, what: str) -> tuple[list[Path], int]:
    if path.is_dir():
        images, ignored = scan_images(path)
        if not images:
            raise ConfigError(f"{what} folder {path} contains no image files")
        return images, ignored
    return [path], 0


def plan_jobs(args: Namespace) -> tuple[list[Job], bool, int]:
    """(jobs, folder_mode, ignored non-image files) from the parsed arguments; ConfigError on misuse."""
    content = Path(args.content).expanduser()
    styles = [Path(s).expanduser() for s in args.style]
    _check_input(content, "--content")
    for s in styles:
        _check_input(s, "--style")
    if args.mask is not None:
        _check_input(Path(args.mask).expanduser(), "--mask")
    if len(styles) > 1 and any(s.is_dir() for s in styles):
        raise ConfigError("several --style values are blended into one image, so each must be a file, not a folder")
    if args.style_weights is not None and len(args.style_weights) != len(styles):
        raise ConfigError(f"--style-weights has {len(args.style_weights)} values for {len(styles)} --style value(s)")
    if args.style_weights is not None and args.mask is not None:
        raise ConfigError("use either --mask or --style-weights, not both")
    folder_mode = content.is_dir() or styles[0].is_dir()
    contents, ignored_c = _expand(content, "--content")
    if len(styles) == 1:
        style_files, ignored_s = _expand(styles[0], "--style")
        style_sets = [(s,) for s in style_files]
    else:
        style_sets, ignored_s = [tuple(styles)], 0
    output = Path(args.output).expanduser()
    content_ids = assign_ids(contents)
    style_ids = assign_ids(sorted({s for group in style_sets for s in group}))

    def name(c: Path, group: tuple[Path, ...]) -> str:
        return stylized_name(content_ids[c], "+".join(style_ids[s] for s in group), args.format)

    if folder_mode:
        if output.exists() and not output.is_dir():
            raise ConfigError(f"--output {output} must be a folder when --content or --style is a folder")
        jobs = [Job(c, g, output / name(c, g)) for c in contents for g in style_sets]
    elif output.is_dir() or str(args.output).endswith(("/", "\\")):
        jobs = [Job(contents[0], style_sets[0], output / name(contents[0], style_sets[0]))]
    else:
        if output.suffix.lower() not in OUTPUT_FORMATS:
            raise ConfigError(f"--output {output}: unknown image extension {output.suffix!r} (use one of {sorted(OUTPUT_FORMATS)})")
        jobs = [Job(contents[0], style_sets[0], output)]
    return jobs, folder_mode, ignored_c + ignored_s


# --- running ----------------------------------------------------------------------------------
def _run_job(stylizer: "Stylizer", job: Job, args: Namespace) -> None:
    image = stylizer.stylize(
        job.content,
        list(job.styles),
        alpha=args.alpha,
        style_weights=args.style_weights,
        mask=args.mask,
        preserve_color=args.preserve_color,
        max_side=args.max_side,
        keep_alpha=args.keep_alpha,
    )
    save_image(image, job.output, overwrite=args.overwrite)


def _setup_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.WARNING, format="stylekernel: %(message)s", stream=sys.stderr)


def run(args: Namespace) -> int:
    """Plan, load the checkpoint, stylize; returns the exit status (raises StyleKernelError on bad input)."""
    from stylekernel.inference import Stylizer

    from stylekernel.paths import check_writable_dir, check_writable_file

    jobs, folder_mode, ignored = plan_jobs(args)
    if not folder_mode and jobs[0].output.exists() and not args.overwrite:
        raise ConfigError(f"output {jobs[0].output} exists (pass --overwrite to replace it)")
    if folder_mode:  # found now, not after the whole stylization
        check_writable_dir(jobs[0].output.parent, what="--output")
    else:
        check_writable_file(jobs[0].output, what="--output")
    stylizer = Stylizer.from_checkpoint(
        args.checkpoint,
        device=args.device,
        precision=args.precision,
        style_size=args.style_size,
        tile_size=args.tile_size,
        query_chunk_size=args.query_chunk_size,
        # the feature cache only pays off when images repeat (folder mode); a single 4K content
        # would otherwise keep its 0.5 GB relu4_1 map alive through decoding
        **({} if folder_mode else {"feature_cache_bytes": 0}),
    )
    stylizer.net.check_alpha(args.alpha)  # refused before any image (AdaConv has no alpha)
    if not folder_mode:
        _run_job(stylizer, jobs[0], args)
        print(f"wrote {jobs[0].output}", file=sys.stderr)
        return 0
    return _run_folder(stylizer, jobs, args, ignored=ignored)


def _run_folder(stylizer: "Stylizer", jobs: list[Job], args: Namespace, *, ignored: int) -> int:
    from tqdm import tqdm

    written = skipped = 0
    failed: list[str] = []
    with tqdm(total=len(jobs), desc="stylize", unit="img", file=sys.stderr, disable=args.quiet) as bar:
        for job in jobs:
            label = f"{job.content.name} x {'+'.join(s.name for s in job.styles)}"
            try:
                if job.output.exists() and not args.overwrite:
                    skipped += 1
                else:
                    _run_job(stylizer, job, args)
                    written += 1
            except StyleKernelError as exc:
                failed.append(label)
                tqdm.write(f"{PROG}: failed: {label}: {exc}", file=sys.stderr)
            except Exception as exc:  # noqa: BLE001 - one bad pair must not stop the batch
                failed.append(label)
                log.debug("unexpected error on %s", label, exc_info=True)
                tqdm.write(f"{PROG}: failed: {label}: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
            bar.update(1)
    summary = f"{PROG}: {written} written, {skipped} skipped (exist), {len(failed)} failed of {len(jobs)} -> {args.output}"
    if ignored:
        summary += f"; {ignored} non-image file(s) ignored"
    print(summary, file=sys.stderr)
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point (``stylekernel stylize ...``); returns the exit status, never a traceback for bad input."""
    _setup_logging()
    from stylekernel.image_files import pixel_budget

    try:
        args = parse_args(list(sys.argv[1:] if argv is None else argv))
        with pixel_budget(args.max_pixels):
            return run(args)
    except StyleKernelError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
