"""Learning-rate schedule of this family of methods: optional linear warm-up, then inverse decay,
optionally with step drops.

lr(step) = base_lr * warmup(step) / (1 + decay * max(0, step - warmup_steps)) * gamma^k, where
warmup ramps linearly from ``warmup_start`` to 1 over ``warmup_steps`` and k is the number of
``milestones`` already reached. The defaults give the AdaIN / SANet rule ``lr / (1 + 5e-5 *
step)``; StyTr-2's warm-up is ``warmup_start`` 0.25 over 10k steps then decay 1e-5, and AdaAttN's
per-epoch drops are ``decay`` 0 with ``milestones`` at epoch boundaries and ``gamma`` 0.3. A
picklable callable, so LambdaLR checkpoints it.
"""

from __future__ import annotations

import bisect
from typing import Sequence


class InverseDecay:
    """Multiplier for ``torch.optim.lr_scheduler.LambdaLR`` (stepped once per optimiser step)."""

    def __init__(
        self,
        decay: float = 5e-5,
        warmup_steps: int = 0,
        warmup_start: float = 0.0,
        milestones: Sequence[int] = (),
        gamma: float = 1.0,
    ) -> None:
        self.decay = float(decay)
        self.warmup_steps = int(warmup_steps)
        self.warmup_start = float(warmup_start)
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = float(gamma)

    def __call__(self, step: int) -> float:
        drops = self.gamma ** bisect.bisect_right(self.milestones, step) if self.milestones else 1.0
        if step < self.warmup_steps:
            return drops * (self.warmup_start + (1.0 - self.warmup_start) * step / self.warmup_steps)
        return drops / (1.0 + self.decay * (step - self.warmup_steps))
