"""Report writers: per-pair CSV, summary JSON, and a Markdown table rendered from the summary.

The JSON is the record (everything else is rendered from it or from the per-pair rows):
``metrics`` (each with its variant where there is more than one), ``n_pairs``, ``mode``, the
resolved ``config``, package ``versions``, ``git`` commit, ``seeds``, ``fingerprints`` of the
content, style (and stylized) sets and of the pair list, ``timing`` and ``cost_seconds``.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Sequence

PER_PAIR_CSV = "per_pair.csv"
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"


def write_csv(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """One row per pair, columns in first-seen order (floats with full precision)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _json_safe(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    return x


def write_json(summary: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_safe(summary), indent=2, sort_keys=False) + "\n")


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.4f}" if abs(x) < 1e4 else f"{x:.4g}"
    return "-" if x is None else str(x)


def render_markdown(summary: dict[str, Any]) -> str:
    """A Markdown table of the metrics (names say which FID variant) plus timing, if any."""
    lines = [f"# Evaluation: {summary.get('n_pairs')} pairs ({summary.get('mode')})", "",
             "| metric | value | note |", "| --- | --- | --- |"]
    for name, entry in summary["metrics"].items():
        lines.append(f"| {entry.get('label', name)} | {_fmt(entry.get('value'))} | {entry.get('note', '')} |")
    resizing = summary.get("resizing")
    if resizing:
        lines += ["", f"Images: {resizing['statement']}.", f"Stylized images: {resizing['stylized']}."]
        for role in ("content", "style", "content_to_stylized"):
            entry = resizing.get(role) or {}
            if entry.get("changed"):
                names = list(entry["files"])
                shown = ", ".join(f"{n} {'x'.join(map(str, entry['files'][n]['stored_hw']))} -> "
                                  f"{'x'.join(map(str, entry['files'][n]['used_hw']))}" for n in names[:5])
                lines.append(f"Changed {role.replace('_', ' ')} images ({entry['changed']} of {entry['of']}, "
                             f"{entry['rule']}; H x W): {shown}{' ...' if len(names) > 5 else ''} "
                             f"(all in summary.json).")
    lines += [f"\nNote: {note}" for note in summary.get("notes", [])]
    timing = summary.get("timing")
    if timing and timing.get("applies") is False:
        lines += ["", f"Timing: {timing['note']}."]
    elif timing:
        lines += ["", f"Timing on {timing['device']} ({timing['device_name']}), {timing['dtype']}, torch "
                      f"{timing['torch_version']}, {timing['num_threads']} threads, median of {timing['runs']} runs:", "",
                  "| size | ms / image | images / s (batch) | peak memory MB, batch 1 / batch | memory measured |",
                  "| --- | --- | --- | --- | --- |"]
        for t in timing["sizes"]:
            lines.append(f"| {t['size']} | {t['ms_per_image']:.1f} | {t['images_per_s']:.2f} ({t['batch_size']}) | "
                         f"{t['peak_memory_mb']:.0f} / {t.get('peak_memory_mb_batch', 0):.0f} | {t['peak_memory_kind']} |")
    fp = summary.get("fingerprints", {})
    lines += ["", f"Content set {str(fp.get('content'))[:12]}, style set {str(fp.get('style'))[:12]}, "
                  f"git {str(summary.get('git', {}).get('commit'))[:12]}."]
    return "\n".join(lines) + "\n"


def write_markdown(summary: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_markdown(summary))
