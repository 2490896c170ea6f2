"""Learning-rate schedule of this family of methods: optional linear warm-up, then inverse decay.

lr(step) = base_lr * warmup(step) / (1 + decay * max(0, step - warmup_steps)), the AdaIN / SANet
rule ``lr / (1 + 5e-5 * step)``. A picklable callable, so LambdaLR checkpoints it.
"""

from __future__ import annotations


class InverseDecay:
    """Multiplier for ``torch.optim.lr_scheduler.LambdaLR`` (stepped once per optimiser step)."""

    def __init__(self, decay: float = 5e-5, warmup_steps: int = 0, warmup_start: float = 0.0) -> None:
        self.decay = float(decay)
        self.warmup_steps = int(warmup_steps)
        self.warmup_start = float(warmup_start)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.warmup_start + (1.0 - self.warmup_start) * step / self.warmup_steps
        return 1.0 / (1.0 + self.decay * (step - self.warmup_steps))
