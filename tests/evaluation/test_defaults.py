"""One home for the evaluation protocol's defaults: the settings that both :class:`EvalConfig` and a
metric's own signature take have the same default everywhere (the constants of
``stylekernel_eval.protocol``), and the evaluation's stylization alpha is the engine's. A default
changed in one signature only fails here."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable

import pytest

from stylekernel.engine import DEFAULT_ALPHA
from stylekernel_eval import protocol
from stylekernel_eval.metrics.artfid import ArtFID
from stylekernel_eval.metrics.fid import FID, fid_infinity
from stylekernel_eval.metrics.lpips import LPIPS, build_lpips
from stylekernel_eval.metrics.perceptual_losses import PerceptualLosses
from stylekernel_eval.protocol import EvalConfig

#: (callable, its parameter, the EvalConfig field it receives or None, the protocol constant)
SHARED: list[tuple[Callable[..., Any], str, str | None, str]] = [
    (ArtFID.__init__, "lpips_net", "lpips_net", "DEFAULT_LPIPS_NET"),
    (LPIPS.__init__, "net", "lpips_net", "DEFAULT_LPIPS_NET"),
    (build_lpips, "net", "lpips_net", "DEFAULT_LPIPS_NET"),
    (LPIPS.__init__, "version", None, "DEFAULT_LPIPS_VERSION"),
    (build_lpips, "version", None, "DEFAULT_LPIPS_VERSION"),
    (ArtFID.__init__, "inception_weights", "inception_weights", "DEFAULT_INCEPTION_WEIGHTS"),
    (FID.__init__, "weights", "inception_weights", "DEFAULT_INCEPTION_WEIGHTS"),
    (ArtFID.__init__, "fid_inf_points", "fid_inf_points", "DEFAULT_FID_INF_POINTS"),
    (FID.__init__, "fid_inf_points", "fid_inf_points", "DEFAULT_FID_INF_POINTS"),
    (fid_infinity, "num_points", "fid_inf_points", "DEFAULT_FID_INF_POINTS"),
    (ArtFID.__init__, "fid_inf_min_size", "fid_inf_min_size", "DEFAULT_FID_INF_MIN_SIZE"),
    (FID.__init__, "fid_inf_min_size", "fid_inf_min_size", "DEFAULT_FID_INF_MIN_SIZE"),
    (fid_infinity, "min_size", "fid_inf_min_size", "DEFAULT_FID_INF_MIN_SIZE"),
    (ArtFID.__init__, "fid_sqrtm", "fid_sqrtm", "DEFAULT_FID_SQRTM"),
    (FID.__init__, "sqrtm", "fid_sqrtm", "DEFAULT_FID_SQRTM"),
    (fid_infinity, "sqrtm", "fid_sqrtm", "DEFAULT_FID_SQRTM"),
    (PerceptualLosses.__init__, "encoder_weights", "loss_encoder", "DEFAULT_LOSS_ENCODER"),
]


def _config_defaults() -> dict[str, Any]:
    return {f.name: f.default for f in dataclasses.fields(EvalConfig) if f.default is not dataclasses.MISSING}


@pytest.mark.parametrize("func, param, field, constant", SHARED, ids=[f"{f.__qualname__}.{p}" for f, p, _, _ in SHARED])
def test_metric_signatures_default_to_the_protocol_constant(func: Callable[..., Any], param: str, field: str | None,
                                                            constant: str) -> None:
    value = getattr(protocol, constant)
    assert inspect.signature(func).parameters[param].default == value, f"{func.__qualname__}({param}=...) drifted from {constant}"
    if field is not None:
        assert _config_defaults()[field] == value, f"EvalConfig.{field} drifted from {constant}"


def test_the_defaults_are_the_reference_protocol() -> None:
    """The values themselves (a change here is a change of the protocol, and must be meant)."""
    assert (protocol.DEFAULT_LPIPS_NET, protocol.DEFAULT_LPIPS_VERSION, protocol.DEFAULT_INCEPTION_WEIGHTS) == ("alex", "0.1", "art_inception")
    assert (protocol.DEFAULT_FID_INF_POINTS, protocol.DEFAULT_FID_INF_MIN_SIZE) == (15, 5000)
    assert (protocol.DEFAULT_FID_SQRTM, protocol.DEFAULT_LOSS_ENCODER) == ("reference", "torchvision")


def test_evaluation_alpha_is_the_engines() -> None:
    assert _config_defaults()["alpha"] == DEFAULT_ALPHA
