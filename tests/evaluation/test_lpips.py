"""LPIPS: equal to calling ``lpips.LPIPS`` directly; backbone weights through stylekernel.weights."""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import pytest
import torch

from stylekernel import weights as weight_files
from stylekernel.errors import CheckpointError, WeightsNotFoundError

from stylekernel_eval.metrics.lpips import LPIPS, build_lpips, lpips_scores


def _reference_lpips() -> torch.nn.Module:
    """lpips' own construction: torchvision loads the backbone from $TORCH_HOME/hub/checkpoints."""
    import lpips

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return lpips.LPIPS(net="alex", version="0.1").eval()


def test_equals_lpips_package_per_pair(eval_weights: Path, seed: int) -> None:
    x, y = torch.rand(5, 3, 64, 72), torch.rand(5, 3, 64, 72)
    ours = lpips_scores(build_lpips("alex"), x, y)
    with torch.no_grad():
        ref = _reference_lpips()(2 * x - 1, 2 * y - 1).flatten()
    assert ours.shape == (5,)
    assert torch.allclose(ours, ref, rtol=1e-6, atol=1e-7), (ours, ref)
    assert ours.std() > 0  # distinct pairs, distinct values


def test_metric_mean_over_batches_equals_mean_of_pairs(eval_weights: Path, seed: int) -> None:
    x, y = torch.rand(7, 3, 48, 48), torch.rand(7, 3, 48, 48)
    metric = LPIPS()
    per_pair = lpips_scores(metric.model, x, y).double()
    for sl in (slice(0, 3), slice(3, 4), slice(4, 7)):
        metric.update(x[sl], y[sl])
        assert torch.allclose(metric.last_scores["lpips"], per_pair[sl].float())
    out = metric.compute()
    assert int(out["count"]) == 7
    assert out["lpips"].dtype == torch.float64
    assert torch.isclose(out["lpips"], per_pair.mean(), rtol=1e-7)


def test_uses_the_cached_backbone_file(eval_weights: Path, seed: int) -> None:
    x, y = torch.rand(2, 3, 48, 48), torch.rand(2, 3, 48, 48)
    before = lpips_scores(build_lpips("alex"), x, y)
    path = weight_files.path_for("alexnet")
    state = weight_files.load_state_dict("alexnet")
    path.unlink()  # a symlink to the shared fake: replace it, do not modify the target
    torch.save({k: v * 0.5 if k.endswith("weight") else v for k, v in state.items()}, path)
    after = lpips_scores(build_lpips("alex"), x, y)
    assert not torch.allclose(before, after)


def test_missing_backbone_offline_is_one_clear_error(weights_cache: Path) -> None:
    with pytest.raises(WeightsNotFoundError) as err:
        build_lpips("alex")
    msg = str(err.value)
    assert "stylekernel weights download alexnet" in msg
    assert weight_files.spec("alexnet").url in msg


def test_wrong_backbone_file_is_rejected(eval_weights: Path, tmp_path: Path) -> None:
    bad = tmp_path / "not_alexnet.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, bad)
    with pytest.raises(CheckpointError):
        build_lpips("alex", backbone=str(bad))
