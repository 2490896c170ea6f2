"""What a summary says about how its numbers were made: the metric entries with their notes, the
resizing statement (and whether the figure is the ArtFID reference's), versions and git state.
"""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from stylekernel_eval.plan import Plan
from stylekernel_eval.protocol import DEFAULT_LPIPS_VERSION, EvalConfig
from stylekernel_eval.sides import ResizeLog

PACKAGES = ("stylekernel", "torch", "torchvision", "lightning", "torchmetrics", "lpips", "piq", "numpy", "scipy", "pillow")


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_state() -> dict[str, Any]:
    import stylekernel

    root = Path(stylekernel.__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True, timeout=10).stdout.strip())
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def sqrtm_note(label: str) -> str:
    """What a FID's ``sqrtm`` label ("reference", "exact", "exact (reference sqrtm failed: ...)") means."""
    if label == "reference":
        return "tr sqrt(S1 S2) by scipy sqrtm, art-fid's algorithm (sqrtm: reference; the exact value in value_exact)"
    if label == "exact":
        return ("tr sqrt(S1 S2) exact (sqrtm: exact, factor method: more accurate than art-fid's scipy sqrtm, "
                "~2e-6 relative from it, measured)")
    return f"tr sqrt(S1 S2) exact, art-fid cannot compute this figure (sqrtm: {label})"


def metric_entries(results: dict[str, Any], config: EvalConfig) -> dict[str, dict[str, Any]]:
    art = results["art_fid"]
    n = int(results["count"])
    fid_note = (f"art Inception-v3, {art['n_fake']} stylized vs {art['n_real']} style images ({config.style_set}), "
                f"stylized images {'as stored' if config.mode == 'stylized_dir' else 'as written'}, style images "
                f"{'as stored' if config.size is None else f'after the size rule (shorter side {config.size})'}, "
                f"Inception input {'not resized' if config.fid_resize is None else f'resized to {config.fid_resize}'}, "
                f"{sqrtm_note(art['sqrtm'])}")
    entries: dict[str, dict[str, Any]] = {
        "lpips": {"label": f"LPIPS ({config.lpips_net}, v{DEFAULT_LPIPS_VERSION})", "value": art["lpips"], "n": n,
                  "note": "stylized vs content, lower is better"},
        "fid": {"label": "FID", "value": art["fid"], "variant": "FID", "n_stylized": art["n_fake"],
                "n_style": art["n_real"], "style_set": config.style_set, "inception_resize": config.fid_resize,
                "sqrtm": art["sqrtm"], **({"value_exact": art["fid_exact"]} if "fid_exact" in art else {}),
                "note": fid_note},
        "art_fid": {"label": "ArtFID (plain FID)", "value": art["art_fid"], "variant": "ArtFID with plain FID",
                    "note": "(1 + LPIPS) x (1 + FID)"},
    }
    if "fid_inf" in art:
        entries["fid_inf"] = {"label": "FID_inf", "value": art["fid_inf"], "variant": "FID_inf",
                              "subset_sizes": art["sizes"], "subset_fids": art["fids"], "seed": art["seed"],
                              "sqrtm": art["fid_inf_sqrtm"],
                              "note": f"linear fit of FID against 1/N, value at 1/N = 0, {sqrtm_note(art['fid_inf_sqrtm'])}"}
        entries["art_fid_inf"] = {"label": "ArtFID_inf", "value": art["art_fid_inf"], "variant": "ArtFID with FID_inf",
                                   "note": "(1 + LPIPS) x (1 + FID_inf)"}
    for name in ("content_loss", "style_loss", "gram_loss", "ssim"):
        if name in results:
            entries[name] = {"label": name.replace("_", " "), "value": float(results[name]), "n": n}
    return entries


FILTERS = {
    "content": "PIL bicubic (antialiased) to shorter side {size}{crop}",
    "style": "PIL bicubic (antialiased) to shorter side {size}{crop}",
    "content_to_stylized": "PIL bicubic on the 8-bit image, to the stylized image's size (LPIPS and SSIM need equal sizes)",
}


def resizing_record(config: EvalConfig, log: ResizeLog, the_plan: Plan, *, fid_sqrtm: str) -> dict[str, Any]:
    """What was resized, to what, with which filter; and whether the figure is the reference's.

    ``fid_sqrtm``: the FID's ``sqrtm`` label as computed; anything but ``reference`` (art-fid's
    scipy sqrtm) makes the figure differ from the reference's, however little.
    """
    crop = f", centre {config.size}x{config.size} crop" if config.crop else ""
    record: dict[str, Any] = {"stylized": "as stored (never resized)" if config.mode == "stylized_dir"
                              else "as written (the saved PNGs), never resized"}
    differences: list[str] = []
    for role in ("content", "style", "content_to_stylized"):
        changed = dict(sorted(log.changed.get(role, {}).items()))
        n_seen = len(log.seen.get(role, ()))
        entry: dict[str, Any] = {"changed": len(changed), "of": n_seen,
                                 "files": {k: {"stored_hw": list(a), "used_hw": list(b)} for k, (a, b) in changed.items()}}
        if role in ("content", "style"):
            entry["rule"] = "as stored" if config.size is None else FILTERS[role].format(size=config.size, crop=crop)
        else:
            entry["rule"] = FILTERS[role]
        record[role] = entry
        if changed:
            what = {"content": "content images", "style": "style images",
                    "content_to_stylized": "content images resized to their stylized image's size"}[role]
            differences.append(f"{len(changed)} of {n_seen} {what} changed ({entry['rule']})")
    record["inception"] = ("as stored" if config.fid_resize is None else
                           f"every stylized and style image resized to {config.fid_resize}x{config.fid_resize} "
                           "(bilinear, antialiased) for Inception")
    if config.fid_resize is not None:
        differences.append(f"Inception inputs resized to {config.fid_resize}x{config.fid_resize}")
    if config.style_set != "unique":
        differences.append("FID style set: one style image per stylized image (style_set per_pair), the reference "
                           "uses each file of the style folder once")
    elif set(the_plan.style_set) != set(the_plan.style_folder):
        differences.append(f"FID style set: the {len(the_plan.style_set)} style images the pairs use, the reference "
                           f"uses all {len(the_plan.style_folder)} files of the style folder")
    if fid_sqrtm == "exact":
        differences.append("FID square root: exact, not art-fid's scipy sqrtm (about 2e-6 relative apart, measured)")
    elif fid_sqrtm != "reference":  # the reference's sqrtm failed: there is no reference figure to be near
        differences.append(f"FID square root: {fid_sqrtm}; art-fid cannot compute this figure")
    record["reference_exact"] = not differences
    record["differences"] = differences
    record["statement"] = ("every image as stored, as the ArtFID reference (art-fid) reads them: the reference's figure"
                           if not differences else "NOT the reference's figure: " + "; ".join(differences))
    return record
