"""A process killed while writing a checkpoint leaves the previous checkpoint intact."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import torch

from stylekernel.checkpoint import read_checkpoint

SCRIPT = textwrap.dedent(
    """
    import os, sys
    import lightning as L, torch
    from stylekernel.module import StyleTransferModule
    from stylekernel.nn.style_kernel_net import StyleKernelNet

    path, phase = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    module = StyleTransferModule(StyleKernelNet(encoder_weights="random", groups=16, kernel_hidden_channels=16))
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, max_steps=0, enable_progress_bar=False)
    trainer.strategy.connect(module)
    trainer.strategy.setup_environment()
    if phase == "kill":
        with torch.no_grad():
            for p in module.parameters():
                p.add_(1.0)
        import fsspec.implementations.local as local
        original = local.LocalFileOpener.write
        def dying_write(self, data):
            original(self, data[: len(data) // 2])
            self.flush()
            os._exit(9)  # like SIGKILL in the middle of the write
        local.LocalFileOpener.write = dying_write
    trainer.save_checkpoint(path)
    """
)


def test_killed_save_does_not_corrupt_previous_checkpoint(tmp_path: Path) -> None:
    script = tmp_path / "save.py"
    script.write_text(SCRIPT)
    ckpt = tmp_path / "last.ckpt"
    ok = subprocess.run([sys.executable, str(script), str(ckpt), "ok"], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr[-2000:]
    before = read_checkpoint(ckpt)["state_dict"]
    killed = subprocess.run([sys.executable, str(script), str(ckpt), "kill"], capture_output=True, text=True, timeout=300)
    assert killed.returncode == 9, killed.stderr[-2000:]
    after = read_checkpoint(ckpt)["state_dict"]  # still a complete, readable checkpoint
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)  # and still the old one
