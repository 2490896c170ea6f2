"""The shared shell of every per-pair metric: float64 running sums plus a count, summed across processes.

A per-pair metric has a functional core ``scores(...) -> {name: (B,) tensor}`` that scores a
batch of pairs, and this thin torchmetrics shell that accumulates the scores. Each name gets a
float64 ``sum_<name>`` state; one ``count`` state counts pairs. Both use
``dist_reduce_fx="sum"``, so the mean after a DDP sync is exactly the mean over all pairs seen by
all processes, whatever the split (up to float64 summation order).

``update`` returns nothing (torchmetrics' contract); the per-pair scores of the latest batch are
kept, detached on the CPU, in :attr:`PerPairMetric.last_scores` for per-pair reports.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor
from torchmetrics import Metric


class PerPairMetric(Metric):
    """Mean of per-pair scores. Subclasses set ``score_names`` and implement :meth:`scores`."""

    score_names: ClassVar[tuple[str, ...]] = ()
    full_state_update: ClassVar[bool] = False
    is_differentiable: ClassVar[bool] = False
    higher_is_better: ClassVar[bool | None] = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        names = self.active_score_names()
        if not names:
            raise ValueError(f"{type(self).__name__} has no score names")
        for name in names:
            self.add_state(f"sum_{name}", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.last_scores: dict[str, Tensor] = {}

    def active_score_names(self) -> tuple[str, ...]:
        """The score names this instance produces (a subset of ``score_names`` for some options)."""
        return self.score_names

    def scores(self, *args: Any, **kwargs: Any) -> dict[str, Tensor]:
        """Score a batch of B pairs: ``{name: (B,) float tensor}`` (the functional core)."""
        raise NotImplementedError

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Score a batch with :meth:`scores` and add it to the running sums."""
        self._accumulate(self.scores(*args, **kwargs))

    def _accumulate(self, values: dict[str, Tensor]) -> None:
        """Add precomputed per-pair scores ``{name: (B,)}`` to the sums (all names, same B)."""
        sizes = {v.numel() for v in values.values()}
        if len(sizes) != 1 or set(values) != set(self.active_score_names()):
            raise ValueError(f"{type(self).__name__}: expected scores {self.active_score_names()} of one size, got "
                             f"{ {k: tuple(v.shape) for k, v in values.items()} }")
        for name, v in values.items():
            state = getattr(self, f"sum_{name}")
            setattr(self, f"sum_{name}", state + v.detach().to(torch.float64).sum().to(state.device))
        self.count = self.count + float(sizes.pop())
        self.last_scores = {k: v.detach().float().cpu() for k, v in values.items()}

    def compute(self) -> dict[str, Tensor]:
        """``{name: float64 mean over all pairs}`` (NaN when no pair was seen), plus ``count``."""
        out = {name: getattr(self, f"sum_{name}") / self.count for name in self.active_score_names()}
        out["count"] = self.count.clone()
        return out
