"""FID between the stylized set and the style set on art-Inception features (the style term of ArtFID).

Functional core (float64 throughout):

* :func:`accumulate_statistics` adds a batch of features (B, D) to sufficient statistics: the sum
  (D,), the outer-product sum (D, D) and the count. Sums do not depend on how images are split
  across batches or processes, so neither does the FID.
* :func:`mean_cov` turns them into the mean and the unbiased covariance (``np.cov`` convention,
  divisor n - 1), as the reference does.
* :func:`frechet_distance` = ||mu1 - mu2||^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2). ``sqrtm="exact"``
  (:func:`trace_sqrt_product`): with factors S1 = F1 F1^T, S2 = F2 F2^T (pivoted Cholesky, rank-revealing), tr sqrt(S1 S2) is the sum of
  the singular values of F1^T F2. In exact arithmetic this equals the reference's
  ``tr(scipy.linalg.sqrtm(S1 @ S2))``; it stays real and finite when the covariances are
  singular (fewer images than 2048 dimensions, the usual case: 40 style images), where ``sqrtm``
  can return imaginary parts, and it takes well under a second instead of tens of seconds.
* ``sqrtm="reference"`` (:func:`reference_trace_sqrt`; the evaluation's default, see
  ``EvalConfig.fid_sqrtm``) instead computes ``tr sqrtm(S1 S2)`` as the ArtFID reference
  (art-fid 0.0.2) does: ``scipy.linalg.sqrtm`` of the 2048 x 2048 product, retried with 1e-6 on
  both diagonals when not finite, real part kept when the imaginary diagonal is within 1e-3,
  else an error. On singular covariances that Schur-based square root is itself inexact:
  measured on 40 + 40 fake-Inception feature sets, the reference's FID is 2.5e-6 relative from a
  40-digit evaluation of the same formula, the exact method 2e-16
  (``python -m experiments.benchmarks.fid_sqrtm_accuracy``). ``"reference"`` reproduces the
  reference's figure, rounding included, at seconds to tens of CPU seconds per FID. Where the
  reference cannot compute (its sqrtm raises, stays non-finite, or is complex beyond its
  tolerance), :class:`FID` reports the exact value instead, says so in ``sqrtm`` and logs a
  warning; the functions raise :class:`ReferenceSqrtmError`.
* :func:`fid_infinity`: FID_inf as in the ArtFID reference: FID on ``num_points`` random subsets
  of sizes ``linspace(min_size, N, num_points)`` (one permutation per size, shared by both sets,
  so the style set must be per pair), a least-squares line of FID against 1/size, and its value at
  1/size = 0. The reference shuffles with numpy's global, unseeded state; here a seeded
  ``numpy.random.RandomState(seed)`` shuffles (``np.random.seed(seed)`` before the reference
  reproduces our permutations exactly).

Input preparation (:func:`prepare_for_inception`): images in [0, 1], no normalisation; ``resize``
``None`` (default) feeds them at their own size, as the reference does; an int resizes to
``resize x resize`` (bilinear, antialiased) first.
"""

from __future__ import annotations

import logging
import os
from typing import Any, ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from stylekernel.errors import ConfigError

from stylekernel_eval.inception import FEATURE_DIM, load_art_inception
from stylekernel_eval.protocol import (
    DEFAULT_FID_INF_MIN_SIZE,
    DEFAULT_FID_INF_POINTS,
    DEFAULT_FID_SQRTM,
    DEFAULT_INCEPTION_WEIGHTS,
)

#: How tr sqrt(S1 S2) is computed: "exact" (factor method) or "reference" (art-fid's scipy sqrtm,
#: the default: :data:`stylekernel_eval.protocol.DEFAULT_FID_SQRTM`).
SqrtmMethod = Literal["exact", "reference"]
SQRTM_METHODS: tuple[str, ...] = ("exact", "reference")


class ReferenceSqrtmError(ValueError):
    """The reference's sqrtm cannot give this FID: it raises, stays non-finite, or has a non-negligible
    imaginary diagonal (art-fid raises, or returns nan/inf, there too)."""


def prepare_for_inception(images: Tensor, resize: int | None = None) -> Tensor:
    """(B, 3, H, W) in [0, 1] -> (B, 3, H', W') float32: unchanged, or resized to ``resize`` square."""
    x = images.float()
    if resize is not None and tuple(x.shape[-2:]) != (resize, resize):
        x = F.interpolate(x, size=(resize, resize), mode="bilinear", align_corners=False, antialias=True)
    return x


def accumulate_statistics(total: Tensor, outer: Tensor, features: Tensor) -> tuple[Tensor, Tensor, int]:
    """Add features (B, D) to running float64 sums: total (D,) and outer (D, D); returns B too."""
    f = features.detach().to(torch.float64)
    return total + f.sum(0), outer + f.T @ f, f.shape[0]


def mean_cov(total: Tensor | np.ndarray, outer: Tensor | np.ndarray, n: float) -> tuple[np.ndarray, np.ndarray]:
    """Sufficient statistics -> mean (D,) and unbiased covariance (D, D), float64 numpy."""
    if n < 2:
        raise ValueError(f"FID needs at least 2 images per set, got {int(n)}")
    t = np.asarray(total.cpu() if isinstance(total, Tensor) else total, dtype=np.float64)
    o = np.asarray(outer.cpu() if isinstance(outer, Tensor) else outer, dtype=np.float64)
    mu = t / n
    cov = (o - n * np.outer(mu, mu)) / (n - 1)
    return mu, (cov + cov.T) / 2


def psd_factor(sigma: np.ndarray, max_rank: int | None = None) -> np.ndarray:
    """A factor F (D, r) with F @ F.T = sigma for a PSD sigma (D, D), by pivoted Cholesky.

    LAPACK's ``dpstrf`` stops at the numerical rank (remaining pivots below D * eps * max
    diagonal); ``max_rank`` caps r further (a covariance of n samples has rank <= n - 1). Costs
    O(D r^2), so a 2048-d covariance of 40 images factors in milliseconds.
    """
    from scipy.linalg.lapack import dpstrf

    c, piv, rank, info = dpstrf(np.ascontiguousarray(sigma, dtype=np.float64), lower=1)
    if info < 0:
        raise ValueError(f"dpstrf: illegal argument {-info}")
    r = int(rank) if max_rank is None else min(int(rank), max_rank)
    factor = np.empty((sigma.shape[0], r))
    factor[piv - 1] = np.tril(c)[:, :r]
    return factor


def trace_sqrt_factors(f1: np.ndarray, f2: np.ndarray) -> float:
    """tr sqrt(S1 S2) for S1 = f1 f1^T, S2 = f2 f2^T: the sum of the singular values of f1^T f2.

    (The nonzero eigenvalues of S1 S2 are those of (f1^T f2)(f1^T f2)^T.)
    """
    return float(np.linalg.svd(f1.T @ f2, compute_uv=False).sum())


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray, *, rank1: int | None = None,
                       rank2: int | None = None) -> float:
    """tr sqrt(S1 S2) for PSD S1, S2 (D, D) (ranks at most ``rank1``, ``rank2`` if given)."""
    return trace_sqrt_factors(psd_factor(sigma1, rank1), psd_factor(sigma2, rank2))


def reference_trace_sqrt(sigma1: np.ndarray, sigma2: np.ndarray, *, eps: float = 1e-6) -> float:
    """tr sqrtm(S1 S2) with the ArtFID reference's arithmetic (see the module docstring); S (D, D).

    Raises :class:`ReferenceSqrtmError` where the reference cannot compute: scipy's sqrtm raises,
    its result is still not finite after the 1e-6 retry (the reference would return nan/inf), or
    the imaginary diagonal exceeds 1e-3 (the reference raises).
    """
    from scipy import linalg

    try:
        covmean = linalg.sqrtm(sigma1.dot(sigma2))
        if not np.isfinite(covmean).all():
            offset = np.eye(sigma1.shape[0]) * eps
            covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        raise ReferenceSqrtmError(f"scipy's sqrtm raised {type(exc).__name__}: {exc}, art-fid raises") from exc
    if not np.isfinite(covmean).all():
        raise ReferenceSqrtmError(f"not finite even with {eps:g} added to both diagonals, art-fid returns nan/inf")
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ReferenceSqrtmError(f"imaginary component {np.max(np.abs(covmean.imag)):.3g}, art-fid raises")
        covmean = covmean.real
    return float(np.trace(covmean))


def frechet_distance(
    mu1: np.ndarray,
    sigma1: np.ndarray,
    mu2: np.ndarray,
    sigma2: np.ndarray,
    *,
    rank1: int | None = None,
    rank2: int | None = None,
    sqrtm: SqrtmMethod = DEFAULT_FID_SQRTM,
) -> float:
    """Fréchet distance between N(mu1, S1) and N(mu2, S2); mu (D,), S (D, D) float64.

    ``rank1``/``rank2``: upper bounds of the covariances' ranks (n - 1 for n samples), optional.
    ``sqrtm``: "exact" (factor method) or "reference" (art-fid's scipy sqrtm, see the module docstring).
    """
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"FID: shape mismatch {mu1.shape}/{mu2.shape}, {sigma1.shape}/{sigma2.shape}")
    if sqrtm not in SQRTM_METHODS:
        raise ConfigError(f"fid sqrtm must be one of {SQRTM_METHODS}, got {sqrtm!r}")
    diff = mu1 - mu2
    if sqrtm == "reference":
        tr_covmean = reference_trace_sqrt(sigma1, sigma2)
    else:
        tr_covmean = trace_sqrt_product(sigma1, sigma2, rank1=rank1, rank2=rank2)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)


def fid_from_features(fake: np.ndarray, real: np.ndarray) -> float:
    """FID between two feature sets (N1, D) and (N2, D) (float64; covariance divisor N - 1).

    The centred features scaled by 1/sqrt(N - 1) are exact factors of the covariances.
    """
    f1 = (fake - fake.mean(0)) / np.sqrt(fake.shape[0] - 1)
    f2 = (real - real.mean(0)) / np.sqrt(real.shape[0] - 1)
    diff = fake.mean(0) - real.mean(0)
    return float(diff @ diff + (f1 * f1).sum() + (f2 * f2).sum() - 2.0 * trace_sqrt_factors(f1.T, f2.T))


def fid_infinity(
    fake: np.ndarray,
    real: np.ndarray,
    *,
    num_points: int = DEFAULT_FID_INF_POINTS,
    min_size: int = DEFAULT_FID_INF_MIN_SIZE,
    seed: int = 0,
    sqrtm: SqrtmMethod = DEFAULT_FID_SQRTM,
) -> dict[str, Any]:
    """FID_inf of paired feature sets fake, real (N, D) (row i of both belongs to pair i).

    ``sqrtm="reference"`` computes each subset's FID as the reference does (np.cov, scipy sqrtm).

    Returns ``{"fid_inf": value, "sizes": [...], "fids": [...], "seed": seed}``.
    """
    n = fake.shape[0]
    if real.shape[0] != n:
        raise ConfigError(f"FID_inf needs one style image per stylized image (paired sets), got {n} and {real.shape[0]}")
    if n <= min_size or num_points < 2:
        raise ConfigError(
            f"FID_inf needs more than fid_inf_min_size={min_size} pairs and num_points >= 2 (got {n} pairs, "
            f"{num_points} points); report plain FID for smaller sets"
        )
    sizes = np.linspace(start=min_size, stop=n, num=num_points).astype("int32")
    rng = np.random.RandomState(seed)
    idx = np.arange(n)
    fids = []
    for size in sizes:
        rng.shuffle(idx)
        sel = idx[:size]
        if sqrtm == "reference":
            f, r = fake[sel], real[sel]
            fids.append(frechet_distance(f.mean(0), np.cov(f, rowvar=False), r.mean(0), np.cov(r, rowvar=False), sqrtm="reference"))
        else:
            fids.append(fid_from_features(fake[sel], real[sel]))
    slope, intercept = np.polyfit(1.0 / sizes.astype(np.float64), np.asarray(fids), deg=1)
    return {"fid_inf": float(intercept), "sizes": sizes.tolist(), "fids": fids, "seed": seed}


class FID(Metric):
    """FID between stylized images (``real=False``) and style images (``real=True``).

    ``update(images, real, index=None)``: images (B, 3, H, W) in [0, 1]; ``index`` (B,) int64
    identifies each image (the pair index) and is only needed with ``keep_features`` (FID_inf),
    where the gathered features are put back in index order so the result does not depend on
    the split across processes. ``compute()`` -> ``{"fid", "n_fake", "n_real"[, "fid_inf"]}``.
    """

    full_state_update: ClassVar[bool] = False
    is_differentiable: ClassVar[bool] = False
    higher_is_better: ClassVar[bool] = False

    def __init__(
        self,
        weights: str | os.PathLike[str] = DEFAULT_INCEPTION_WEIGHTS,
        resize: int | None = None,
        keep_features: bool = False,
        fid_inf_points: int = DEFAULT_FID_INF_POINTS,
        fid_inf_min_size: int = DEFAULT_FID_INF_MIN_SIZE,
        seed: int = 0,
        sqrtm: SqrtmMethod = DEFAULT_FID_SQRTM,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if sqrtm not in SQRTM_METHODS:
            raise ConfigError(f"fid sqrtm must be one of {SQRTM_METHODS}, got {sqrtm!r}")
        self.sqrtm = sqrtm
        if resize is not None and resize < 75:
            raise ConfigError(f"fid resize must be None or >= 75, got {resize}")
        self.inception = load_art_inception(weights)
        self.resize = resize
        self.keep_features = keep_features
        self.fid_inf_points = fid_inf_points
        self.fid_inf_min_size = fid_inf_min_size
        self.seed = seed
        for side in ("real", "fake"):
            self.add_state(f"{side}_sum", torch.zeros(FEATURE_DIM, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{side}_outer", torch.zeros(FEATURE_DIM, FEATURE_DIM, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{side}_n", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
            if keep_features:
                self.add_state(f"{side}_features", [], dist_reduce_fx="cat")
                self.add_state(f"{side}_index", [], dist_reduce_fx="cat")

    def train(self, mode: bool = True) -> "FID":
        super().train(mode)
        self.inception.eval()
        return self

    def features(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, 2048) float32 art-Inception features."""
        with torch.no_grad(), torch.autocast(device_type=images.device.type, enabled=False):
            return self.inception(prepare_for_inception(images, self.resize)).float()

    def update(self, images: Tensor, real: bool, index: Tensor | None = None) -> None:
        """Add a batch of images (B, 3, H, W) to the style (``real``) or the stylized set."""
        self.update_features(self.features(images), real=real, index=index)

    def update_features(self, features: Tensor, real: bool, index: Tensor | None = None) -> None:
        """Add precomputed features (B, 2048) (internal: called by :meth:`update`)."""
        side = "real" if real else "fake"
        total, outer, b = accumulate_statistics(getattr(self, f"{side}_sum"), getattr(self, f"{side}_outer"), features)
        setattr(self, f"{side}_sum", total)
        setattr(self, f"{side}_outer", outer)
        setattr(self, f"{side}_n", getattr(self, f"{side}_n") + b)
        if self.keep_features:
            if index is None:
                raise ValueError("FID(keep_features=True).update needs the index of each image")
            getattr(self, f"{side}_features").append(features.detach().to(torch.float64))
            getattr(self, f"{side}_index").append(index.detach().to(device=features.device, dtype=torch.int64).reshape(-1))

    def _ordered_features(self, side: str) -> np.ndarray:
        feats = dim_zero_cat(getattr(self, f"{side}_features")).cpu().numpy()
        order = np.argsort(dim_zero_cat(getattr(self, f"{side}_index")).cpu().numpy(), kind="stable")
        return feats[order]

    def compute(self) -> dict[str, Any]:
        """``{"fid", "n_fake", "n_real", "sqrtm"[, "fid_exact"][, "fid_inf", ..., "fid_inf_sqrtm"]}``.

        ``sqrtm`` (and ``fid_inf_sqrtm``) is the method that gave the figure: "exact", "reference",
        or "exact (reference sqrtm failed: <reason>)" where the reference cannot compute (a
        warning is logged too). ``fid_exact``: the exact value beside a reference one (cheap).
        """
        n_f, n_r = float(self.fake_n), float(self.real_n)
        mu_f, s_f = mean_cov(self.fake_sum, self.fake_outer, n_f)
        mu_r, s_r = mean_cov(self.real_sum, self.real_outer, n_r)
        exact = frechet_distance(mu_f, s_f, mu_r, s_r, rank1=int(n_f) - 1, rank2=int(n_r) - 1, sqrtm="exact")
        out: dict[str, Any] = {"fid": exact, "n_fake": int(self.fake_n), "n_real": int(self.real_n), "sqrtm": "exact"}
        if self.sqrtm == "reference":
            try:
                out["fid"] = frechet_distance(mu_f, s_f, mu_r, s_r, sqrtm="reference")
                out.update(sqrtm="reference", fid_exact=exact)
            except ReferenceSqrtmError as exc:
                out["sqrtm"] = _fallback_label(exc)
                _warn_fallback("FID", exc)
        if self.keep_features:
            fake, real = self._ordered_features("fake"), self._ordered_features("real")
            options = dict(num_points=self.fid_inf_points, min_size=self.fid_inf_min_size, seed=self.seed)
            try:
                out.update(fid_infinity(fake, real, sqrtm=self.sqrtm, **options), fid_inf_sqrtm=self.sqrtm)
            except ReferenceSqrtmError as exc:
                out.update(fid_infinity(fake, real, sqrtm="exact", **options), fid_inf_sqrtm=_fallback_label(exc))
                _warn_fallback("FID_inf", exc)
        return out


def _fallback_label(exc: ReferenceSqrtmError) -> str:
    """The ``sqrtm`` label of a figure computed exactly because the reference's sqrtm failed."""
    return f"exact (reference sqrtm failed: {exc})"


def _warn_fallback(metric: str, exc: ReferenceSqrtmError) -> None:
    logging.getLogger(__name__).warning(
        "%s: the reference's sqrtm failed (%s), so art-fid cannot compute this figure; the exact value is "
        "reported instead (labelled sqrtm: exact (reference sqrtm failed: ...))", metric, exc)
