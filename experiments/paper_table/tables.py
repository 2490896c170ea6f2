"""The paper's comparison table and the ablation table, rendered from result files only.

:func:`build_sidecar` reads each column's files (``eval/summary.json`` and ``params.json`` of a
method or ablation) into the JSON sidecar: every cell with its value, its display text, the file
it was read from and the key path in that file. :func:`write_table` renders the Markdown, LaTeX
and CSV files from the sidecar only, and :func:`render_from_manifest` rebuilds every table from
the ``manifest.json`` that :mod:`experiments.paper_table.pipeline` writes (``--render-only``).

The table's first row, "Weights", says for each column whether its numbers come from the peer's
released weights or from a model trained here (from ``params.json``, so it is traceable too).

The paper's reported figures (``paper_reported.json``: LPIPS 0.30, 0.035 s per 512 x 512 image)
are a separate column labelled "reported in the paper", never mixed with measured numbers.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Sequence

PAPER_REPORTED = Path(__file__).resolve().parent / "paper_reported.json"
METHOD_LABELS = {"stylekernel": "Ours (StyleKernel)", "adain": "AdaIN", "sanet": "SANet", "adaattn": "AdaAttN",
                 "adaconv": "AdaConv", "stytr2": "StyTr-2"}
ORIGIN_LABELS = {"released": "released weights", "trained": "trained here"}


# --------------------------------------------------------------------------------------------
# table rows: (key, label, lower_is_better, formatter, how to read it from the files)
def _summary_metric(name: str) -> dict[str, Any]:
    return {"file": "summary", "path": ["metrics", name, "value"]}


ROWS: list[dict[str, Any]] = [
    {"key": "lpips", "label": "LPIPS", "arrow": "down", "fmt": "{:.4f}", **_summary_metric("lpips")},
    {"key": "fid", "label": "FID", "arrow": "down", "fmt": "{:.2f}", **_summary_metric("fid")},
    {"key": "art_fid", "label": "ArtFID", "arrow": "down", "fmt": "{:.2f}", **_summary_metric("art_fid")},
    {"key": "content_loss", "label": "Content loss", "arrow": "down", "fmt": "{:.4f}", **_summary_metric("content_loss")},
    {"key": "style_loss", "label": "Style loss", "arrow": "down", "fmt": "{:.4f}", **_summary_metric("style_loss")},
    {"key": "ssim", "label": "SSIM", "arrow": "up", "fmt": "{:.4f}", **_summary_metric("ssim")},
    {"key": "seconds_per_image", "label": "Time (s / image @ {size})", "arrow": "down", "fmt": "{:.4f}",
     "file": "summary", "key_timing": True},
    {"key": "params", "label": "Parameters (M)", "arrow": "none", "fmt": "{:.2f}", "file": "params",
     "path": ["trainable_parameters"], "scale": 1e-6},
]
REPORTED_ROWS = {"lpips": "lpips", "seconds_per_image": "seconds_per_image_512"}


def lookup(data: Any, key: Sequence[Any]) -> Any:
    """``lookup(d, ["timing", "sizes", 1, "ms_per_image"])``; KeyError/IndexError if absent."""
    for part in key:
        data = data[part]
    return data


def cell_value(source_value: Any, cell: dict[str, Any]) -> float:
    """The value a cell shows, from the raw value in its file (``scale`` applied)."""
    return float(source_value) * float(cell.get("scale", 1.0))


def _read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def _timing_key(summary: dict[str, Any], size: int) -> list[Any] | None:
    timing = summary.get("timing") or {}
    for i, t in enumerate(timing.get("sizes", [])):
        if int(t["size"]) == size:
            return ["timing", "sizes", i, "ms_per_image"]
    return None


def _origin_cell(params: dict[str, Any] | None, source: str) -> dict[str, Any]:
    """The "Weights" cell of a column: released / trained here, from params.json's ``weights``."""
    key = ["weights", "origin"]
    try:
        origin = lookup(params, key)
    except (KeyError, TypeError):
        return {"value": None, "display": "n/a", "source": source, "reason": f"{'.'.join(key)} not in this file"}
    cell = {"value": origin, "display": ORIGIN_LABELS.get(origin, str(origin)), "source": source, "key": key}
    if origin == "released":
        cell["release_source"] = params["weights"].get("source")  # type: ignore[index]
    return cell


def build_sidecar(columns: list[dict[str, Any]], *, title: str, timing_size: int,
                  reported: Path | None = None, base: Path | None = None) -> dict[str, Any]:
    """The table as data, read from files only.

    ``columns``: ``{"name", "label", "summary": path of summary.json, "params": path of params.json}``.
    Every measured cell is ``{"value", "display", "source": file, "key": key path, "scale"}``
    (``value == lookup(json(source), key) * scale``); a missing number is ``{"value": None,
    "display": "n/a", "reason": ...}``. ``origins`` holds each column's "Weights" cell (released /
    trained here, read from params.json). ``reported`` adds the paper's figures as a separate column.
    """
    base = Path(base) if base is not None else None

    def rel(p: Path) -> str:
        p = Path(p).resolve()
        if base is not None:
            try:
                return str(p.relative_to(base.resolve()))
            except ValueError:
                pass
        return str(p)

    rows = []
    for row in ROWS:
        rows.append({"key": row["key"], "label": row["label"].format(size=timing_size), "better": row["arrow"]})
    cells: dict[str, dict[str, Any]] = {}
    origins: dict[str, dict[str, Any]] = {}
    for col in columns:
        files = {"summary": Path(col["summary"]), "params": Path(col["params"])}
        loaded: dict[str, Any] = {}
        for kind, path in files.items():
            loaded[kind] = _read_json(path) if path.is_file() else None
        col_cells: dict[str, Any] = {}
        for row in ROWS:
            data = loaded[row["file"]]
            path = files[row["file"]]
            if data is None:
                col_cells[row["key"]] = {"value": None, "display": "n/a", "reason": f"{rel(path)} does not exist"}
                continue
            if row.get("key_timing"):
                key = _timing_key(data, timing_size)
                scale = 1e-3  # ms -> s
                if key is None:
                    col_cells[row["key"]] = {"value": None, "display": "n/a", "source": rel(path),
                                             "reason": f"no timing at {timing_size} px in this summary"}
                    continue
            else:
                key, scale = list(row["path"]), row.get("scale", 1.0)
            try:
                raw = lookup(data, key)
            except (KeyError, IndexError, TypeError):
                col_cells[row["key"]] = {"value": None, "display": "n/a", "source": rel(path),
                                         "reason": f"{'.'.join(map(str, key))} not in this file"}
                continue
            if raw is None:
                col_cells[row["key"]] = {"value": None, "display": "n/a", "source": rel(path), "key": key,
                                         "reason": "the file holds null (not finite)"}
                continue
            cell = {"source": rel(path), "key": key, "scale": scale, "raw": raw}
            cell["value"] = cell_value(raw, cell)
            cell["display"] = row["fmt"].format(cell["value"]) if abs(cell["value"]) < 1e5 else f"{cell['value']:.4g}"
            col_cells[row["key"]] = cell
        cells[col["name"]] = col_cells
        origins[col["name"]] = _origin_cell(loaded["params"], rel(files["params"]))
    sidecar: dict[str, Any] = {
        "title": title,
        "timing_size": timing_size,
        "base": str(base.resolve()) if base is not None else None,
        "rows": rows,
        "columns": [{"name": c["name"], "label": c["label"], "summary": rel(c["summary"]), "params": rel(c["params"])}
                    for c in columns],
        "cells": cells,
        "origins": origins,
        "reported": None,
    }
    if reported is not None:
        rep = _read_json(reported)
        rep_cells: dict[str, Any] = {}
        for row_key, fig_key in REPORTED_ROWS.items():
            fig = rep["figures"][fig_key]
            display = f"{fig['value']:.2f}" if row_key == "lpips" else f"{fig['value']:.3f}"
            rep_cells[row_key] = {"value": fig["value"], "display": display, "source": rel(reported),
                                  "key": ["figures", fig_key, "value"], "as_reported": fig["as_reported"]}
        sidecar["reported"] = {"label": f"{rep['label']}", "method": rep["method"], "paper": rep["paper"],
                               "cells": rep_cells,
                               "footnotes": [f["as_reported"] + f" ({f['context']})" for f in rep["figures"].values()]}
        if timing_size != 512:
            rep_cells.pop("seconds_per_image", None)  # the paper's time is at 512: not comparable
            sidecar["reported"]["footnotes"].append(f"measured times here are at {timing_size} px, not 512: "
                                                    "the paper's time is not shown next to them")
    return sidecar


def _grid(sidecar: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and body rows (display strings) from a sidecar."""
    header = ["Metric"] + [c["label"] for c in sidecar["columns"]]
    rep = sidecar.get("reported")
    if rep:
        header.append(rep["label"])
    body = []
    origins = sidecar.get("origins") or {}
    if origins:
        body.append(["Weights"] + [origins[c["name"]]["display"] for c in sidecar["columns"]] + ([""] if rep else []))
    for row in sidecar["rows"]:
        arrow = {"down": " (lower is better)", "up": " (higher is better)"}.get(row["better"], "")
        line = [row["label"] + arrow] + [sidecar["cells"][c["name"]][row["key"]]["display"] for c in sidecar["columns"]]
        if rep:
            line.append(rep["cells"].get(row["key"], {}).get("display", ""))
        body.append(line)
    return header, body


def render_markdown(sidecar: dict[str, Any]) -> str:
    header, body = _grid(sidecar)
    out = [f"## {sidecar['title']}", "", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    out += ["| " + " | ".join(line) + " |" for line in body]
    out.append("")
    out.append("Measured numbers: each cell is read from the file named in the JSON sidecar "
               "(`" + sidecar.get("sidecar_name", "table.json") + "`).")
    released = {c["label"]: sidecar["origins"][c["name"]].get("release_source") for c in sidecar["columns"]
                if (sidecar.get("origins") or {}).get(c["name"], {}).get("value") == "released"}
    if sidecar.get("origins"):
        out.append("Weights: *" + ORIGIN_LABELS["released"] + "* are the peer's published files imported with "
                   "`stylekernel weights import` (" + (", ".join(f"{k}: {v}" for k, v in released.items()) or "none here")
                   + "); *" + ORIGIN_LABELS["trained"] + "*: trained by `stylekernel fit` of this suite.")
    rep = sidecar.get("reported")
    if rep:
        out.append(f"The last column is **{rep['label']}** ({rep['paper']}); it is not measured by this repository:")
        out += [f"- {note}" for note in rep["footnotes"]]
    return "\n".join(out) + "\n"


def _tex(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#")):
        text = text.replace(a, b)
    return text.replace("(lower is better)", r"$\downarrow$").replace("(higher is better)", r"$\uparrow$")


def render_latex(sidecar: dict[str, Any]) -> str:
    header, body = _grid(sidecar)
    rep = sidecar.get("reported")
    n_measured = len(sidecar["columns"])
    spec = "l" + "c" * n_measured + ("|c" if rep else "")
    lines = [r"% rendered by experiments/paper_table/run.py from " + sidecar.get("sidecar_name", "table.json"),
             r"\begin{table}[t]", r"\centering", r"\begin{tabular}{" + spec + "}", r"\toprule",
             " & ".join(_tex(h) for h in header) + r" \\", r"\midrule"]
    lines += [" & ".join(_tex(c) for c in line) + r" \\" for line in body]
    lines += [r"\bottomrule", r"\end{tabular}"]
    caption = _tex(sidecar["title"]) + "."
    if rep:
        caption += " Last column: " + _tex(rep["label"]) + " (" + "; ".join(_tex(n) for n in rep["footnotes"]) + ")."
    lines += [r"\caption{" + caption + "}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def render_csv(sidecar: dict[str, Any], path: Path) -> None:
    """Long format: one row per cell with its value, display text and source (measured and reported)."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["metric", "column", "kind", "value", "display", "source", "key"])
        for col in sidecar["columns"]:
            c = (sidecar.get("origins") or {}).get(col["name"])
            if c is not None:
                w.writerow(["weights", col["name"], "origin", "" if c["value"] is None else c["value"], c["display"],
                            c.get("source", ""), json.dumps(c.get("key", ""))])
        for row in sidecar["rows"]:
            for col in sidecar["columns"]:
                c = sidecar["cells"][col["name"]][row["key"]]
                w.writerow([row["key"], col["name"], "measured", "" if c["value"] is None else repr(c["value"]),
                            c["display"], c.get("source", ""), json.dumps(c.get("key", ""))])
            rep = sidecar.get("reported")
            if rep and row["key"] in rep["cells"]:
                c = rep["cells"][row["key"]]
                w.writerow([row["key"], "paper_reported", "reported in the paper", repr(c["value"]), c["display"],
                            c["source"], json.dumps(c["key"])])


def write_table(sidecar: dict[str, Any], output: Path, stem: str) -> dict[str, Path]:
    output.mkdir(parents=True, exist_ok=True)
    sidecar["sidecar_name"] = f"{stem}.json"
    paths = {ext: output / f"{stem}.{ext}" for ext in ("json", "md", "tex", "csv")}
    paths["json"].write_text(json.dumps(sidecar, indent=2) + "\n")
    paths["md"].write_text(render_markdown(sidecar))
    paths["tex"].write_text(render_latex(sidecar))
    render_csv(sidecar, paths["csv"])
    return paths


def render_from_manifest(output: Path) -> dict[str, dict[str, Path]]:
    """Rebuild both tables from ``output/manifest.json`` and the files it names."""
    manifest = _read_json(output / "manifest.json")
    written = {}
    for table in manifest["tables"]:
        columns = [{**c, "summary": output / c["summary"], "params": output / c["params"]} for c in table["columns"]]
        reported = PAPER_REPORTED if table.get("reported") else None
        sidecar = build_sidecar(columns, title=table["title"], timing_size=manifest["timing_size"],
                                reported=reported, base=output)
        written[table["stem"]] = write_table(sidecar, output, table["stem"])
    return written
