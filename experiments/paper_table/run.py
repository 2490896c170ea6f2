"""The paper's comparison table and the ablation table, from training to Markdown / LaTeX / CSV.

One command trains every method (``stylekernel fit``, a subprocess per method) or takes given
checkpoints, evaluates each with an evaluation preset (``stylekernel evaluate``, a subprocess),
and renders the tables::

    # the full pipeline (see README.md in this folder for the exact recipe)
    python experiments/paper_table/run.py --output runs/paper_table \\
        --data-config configs/data/coco_wikiart_local.yaml --trainer-config configs/trainer/gpu.yaml \\
        --content-dir coco_test --style-dir wikiart_test --preset paper

    # checkpoints you already have (methods not given are trained)
    python experiments/paper_table/run.py ... --checkpoint adain=adain.ckpt --checkpoint stylekernel=last.ckpt

    # the peers' released weights (`stylekernel weights import`) beside the models trained here
    python experiments/paper_table/run.py ... --released adain=adain_released.ckpt --released sanet=sanet_released.ckpt

    # everything on the embedded demo set, tiny, random encoder: shows the pipeline working
    python experiments/paper_table/run.py --smoke --output runs/paper_table_smoke

    # re-render the tables from the files of an earlier run (no training, no evaluation)
    python experiments/paper_table/run.py --output runs/paper_table --render-only

What is written where: :mod:`experiments.paper_table.pipeline` (training, evaluation, the
manifest; the outputs under ``--output``) and :mod:`experiments.paper_table.tables` (the tables
and their JSON sidecar, from the files only).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: Python put only this folder on sys.path, not the repository
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from experiments.paper_table.pipeline import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
