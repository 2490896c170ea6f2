"""A process killed while writing a checkpoint leaves the previous checkpoint intact, its temp file
next to the target (never in $TMPDIR), and the next save in that folder removes it."""

from __future__ import annotations

import os
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
    from stylekernel.checkpoint_io import SafeCheckpointIO
    from stylekernel.module import StyleTransferModule
    from stylekernel.nn.style_kernel_net import StyleKernelNet

    path, phase = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    module = StyleTransferModule(StyleKernelNet(encoder_weights="random", groups=16, kernel_hidden_channels=16))
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, max_steps=0,
                        enable_progress_bar=False, plugins=[SafeCheckpointIO()])
    trainer.strategy.connect(module)
    trainer.strategy.setup_environment()
    if phase == "kill":
        with torch.no_grad():
            for p in module.parameters():
                p.add_(1.0)
        original = torch.save
        def dying_save(obj, f, *args, **kwargs):
            original({"partial": torch.zeros(1000)}, f)  # some bytes reach the disk
            f.flush()
            os._exit(9)  # like SIGKILL in the middle of the write
        torch.save = dying_save
    trainer.save_checkpoint(path)
    """
)


def _temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]


def test_killed_save_does_not_corrupt_previous_checkpoint(tmp_path: Path) -> None:
    script = tmp_path / "save.py"
    script.write_text(SCRIPT)
    ckpt = tmp_path / "ckpts" / "last.ckpt"
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir), "PYTHONWARNINGS": "ignore"}

    def save(phase: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(script), str(ckpt), phase], capture_output=True, text=True, timeout=600, env=env)

    ok = save("ok")
    assert ok.returncode == 0, ok.stderr[-2000:]
    before = read_checkpoint(ckpt)["state_dict"]
    killed = save("kill")
    assert killed.returncode == 9, killed.stderr[-2000:]
    after = read_checkpoint(ckpt)["state_dict"]  # still a complete, readable checkpoint
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)  # and still the old one
    assert len(_temp_files(ckpt.parent)) == 1  # the killed write's temp file lies next to the target
    assert list(tmpdir.iterdir()) == []  # not in $TMPDIR, where nothing would ever clean it
    again = save("ok")
    assert again.returncode == 0, again.stderr[-2000:]
    assert _temp_files(ckpt.parent) == []  # the next save removed what the killed one left
    assert sorted(p.name for p in ckpt.parent.iterdir()) == ["last.ckpt"]


def test_temp_files_of_live_writers_are_kept(tmp_path: Path) -> None:
    from stylekernel.atomic import temp_path
    from stylekernel.checkpoint_io import clean_stale_temp_files

    target = tmp_path / "epoch=1.ckpt"
    mine = temp_path(target)  # this (live) process
    mine.write_bytes(b"in progress")
    dead = tmp_path / mine.name.replace(f".{os.getpid()}.", ".999999999.")
    dead.write_bytes(b"left by a kill")
    unrelated = tmp_path / ".notes.tmp"
    unrelated.write_text("not ours")
    assert clean_stale_temp_files(tmp_path) == [dead]
    assert mine.exists() and unrelated.exists() and not dead.exists()
