"""Learning-rate schedule of this family of methods: optional linear warm-up, then inverse decay,
optionally with step drops.

lr(step) = base_lr * warmup(step) / (1 + decay * max(0, step - warmup_steps)) * gamma^k, where
warmup ramps linearly from ``warmup_start`` to 1 over ``warmup_steps`` and k is the number of
``milestones`` already reached. The defaults give the AdaIN / SANet rule ``lr / (1 + 5e-5 *
step)``; StyTr-2's warm-up is ``warmup_start`` 0.25 over 10k steps then decay 1e-5, and AdaAttN's
per-epoch drops are ``decay`` 0 with ``milestones`` at epoch boundaries and ``gamma`` 0.3.

:class:`InverseDecayLR` is the scheduler the module builds by default (``lr_scheduler`` in YAML,
``class_path: stylekernel.schedule.InverseDecayLR``) and the one home of the arguments' defaults
and documentation; it is a ``LambdaLR`` whose multiplier is the picklable :class:`InverseDecay`
(the formula and the checks, no defaults of its own), so its state dict is the one ``LambdaLR``
always wrote: checkpoints of the module before the scheduler was injected (``LambdaLR(optimizer,
InverseDecay(...))``) resume into it.
"""

from __future__ import annotations

import bisect
from typing import Sequence

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from stylekernel.errors import check


class InverseDecay:
    """The multiplier lr(step) / base_lr of :class:`InverseDecayLR` (the formula of the module
    docstring), for ``torch.optim.lr_scheduler.LambdaLR``, stepped once per optimiser step.

    The arguments are :class:`InverseDecayLR`'s, documented and defaulted there; its attributes are
    what ``LambdaLR`` saves in (and restores from) its state dict.
    """

    def __init__(
        self, *, decay: float, warmup_steps: int, warmup_start: float, milestones: Sequence[int], gamma: float
    ) -> None:
        check(decay >= 0, f"decay must be >= 0, got {decay}")
        check(warmup_steps >= 0, f"warmup_steps must be >= 0, got {warmup_steps}")
        check(0.0 <= warmup_start <= 1.0, f"warmup_start must be in [0, 1], got {warmup_start}")
        check(gamma > 0, f"gamma must be > 0, got {gamma}")
        check(all(m >= 0 for m in milestones), f"milestones must be >= 0, got {list(milestones)}")
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


class InverseDecayLR(LambdaLR):
    """``LambdaLR(optimizer, InverseDecay(...))``: warm-up, inverse decay and step drops per step.

    Args:
        optimizer: the optimiser whose param groups' ``lr`` is the base lr.
        decay: inverse decay rate per step after the warm-up (lr / (1 + decay * step)).
        warmup_steps: linear warm-up steps, starting at ``warmup_start`` x lr.
        warmup_start: the warm-up's first multiplier, in [0, 1].
        milestones: steps at which the lr is multiplied by ``gamma``.
        gamma: the factor of each milestone.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        decay: float = 5e-5,
        warmup_steps: int = 0,
        warmup_start: float = 0.0,
        milestones: Sequence[int] = (),
        gamma: float = 1.0,
    ) -> None:
        schedule = InverseDecay(decay=decay, warmup_steps=warmup_steps, warmup_start=warmup_start, milestones=milestones, gamma=gamma)
        super().__init__(optimizer, schedule)
