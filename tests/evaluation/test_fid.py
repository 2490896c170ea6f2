"""FID: the math against a naive numpy/scipy reference, split independence, the Inception file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.linalg
import torch

from stylekernel import weights as weight_files
from stylekernel.errors import CheckpointError, ConfigError, WeightsNotFoundError

from stylekernel_eval.inception import load_art_inception
from stylekernel_eval.metrics.fid import (
    FID,
    accumulate_statistics,
    fid_from_features,
    fid_infinity,
    psd_factor,
    frechet_distance,
    mean_cov,
)


def naive_fid(a: np.ndarray, b: np.ndarray) -> float:
    """The textbook formula with scipy's sqrtm (what the ArtFID reference does)."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real)


def test_frechet_distance_matches_naive_full_rank() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 16)) @ rng.normal(size=(16, 16))
    b = rng.normal(loc=0.3, size=(250, 16)) * rng.uniform(0.5, 2, size=16)
    ours = frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert ours == pytest.approx(naive_fid(a, b), rel=1e-9)
    assert ours > 0.1


def test_frechet_distance_matches_naive_rank_deficient() -> None:
    # fewer samples than dimensions, as with 40 style images and 2048-d features
    rng = np.random.default_rng(3)
    a = rng.normal(size=(30, 48)) + rng.normal(size=48)
    b = rng.normal(size=(25, 48)) ** 2
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    ours = frechet_distance(a.mean(0), s1, b.mean(0), s2, rank1=29, rank2=24, sqrtm="exact")
    assert ours == pytest.approx(naive_fid(a, b), rel=1e-6)
    assert fid_from_features(a, b) == pytest.approx(ours, rel=1e-9)
    assert psd_factor(s1).shape == (48, 29)  # pivoted Cholesky finds the rank by itself


def test_frechet_distance_of_gaussians_in_closed_form() -> None:
    # N(0, I) vs N(m, 4I) in d dims: |m|^2 + d + 4d - 2 * 2d = |m|^2 + d
    d, m = 6, np.full(6, 0.5)
    assert frechet_distance(np.zeros(d), np.eye(d), m, 4 * np.eye(d)) == pytest.approx(1.5 + 6, rel=1e-12)


def test_sufficient_statistics_do_not_depend_on_the_split() -> None:
    rng = np.random.default_rng(1)
    feats = torch.from_numpy(rng.normal(size=(23, 8)) + 2.0)

    def stats(chunks: list[torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
        total, outer, n = torch.zeros(8, dtype=torch.float64), torch.zeros(8, 8, dtype=torch.float64), 0
        for c in chunks:
            total, outer, b = accumulate_statistics(total, outer, c)
            n += b
        return mean_cov(total, outer, n)

    mu1, s1 = stats([feats])
    mu2, s2 = stats(list(feats.split(5)))
    mu3, s3 = stats([feats[i : i + 1] for i in torch.randperm(23)])
    np.testing.assert_allclose(s1, np.cov(feats.numpy(), rowvar=False), rtol=1e-10)
    for mu, s in ((mu2, s2), (mu3, s3)):
        np.testing.assert_allclose(mu, mu1, rtol=1e-12)
        np.testing.assert_allclose(s, s1, rtol=1e-10, atol=1e-12)


def naive_fid_inf(fake: np.ndarray, real: np.ndarray, *, min_size: int, points: int, seed: int) -> float:
    """The reference's loop with numpy's global RNG seeded, and sklearn replaced by lstsq."""
    np.random.seed(seed)
    sizes = np.linspace(start=min_size, stop=len(fake), num=points).astype("int32")
    idx = np.arange(len(fake))
    fids = []
    for n in sizes:
        np.random.shuffle(idx)
        fids.append(naive_fid(fake[idx[:n]], real[idx[:n]]))
    design = np.stack([1 / sizes, np.ones(len(sizes))], 1)
    return float(np.linalg.lstsq(design, np.array(fids), rcond=None)[0][1])


def test_fid_infinity_matches_naive_and_is_seeded() -> None:
    rng = np.random.default_rng(2)
    fake = rng.normal(size=(60, 5))
    real = rng.normal(loc=0.2, size=(60, 5)) * 1.3
    a = fid_infinity(fake, real, num_points=5, min_size=20, seed=3)
    assert a["fid_inf"] == pytest.approx(naive_fid_inf(fake, real, min_size=20, points=5, seed=3), rel=1e-8)
    assert a["sizes"] == [20, 30, 40, 50, 60]
    assert fid_infinity(fake, real, num_points=5, min_size=20, seed=3)["fid_inf"] == a["fid_inf"]
    assert fid_infinity(fake, real, num_points=5, min_size=20, seed=4)["fid_inf"] != a["fid_inf"]


def test_fid_infinity_refuses_small_sets() -> None:
    x = np.zeros((800, 4))
    with pytest.raises(ConfigError, match="5000"):
        fid_infinity(x, x)


def test_metric_on_fake_inception_matches_naive(eval_weights: Path, seed: int) -> None:
    fake_imgs = torch.rand(44, 3, 80, 80)
    real_imgs = torch.rand(40, 3, 80, 80) ** 2
    metric = FID(sqrtm="exact")  # the default (reference) costs ~30 CPU s on 2048-d features
    seen: list[torch.Tensor] = []
    metric.inception.register_forward_hook(lambda mod, inp, out: seen.append(out.detach().double()))
    for chunk in fake_imgs.split(16):
        metric.update(chunk, real=False)
    fa = torch.cat(seen).numpy()
    seen.clear()
    metric.update(real_imgs, real=True)
    ra = torch.cat(seen).numpy()
    assert fa.shape == (44, 2048) and ra.shape == (40, 2048)
    assert np.isfinite(fa).all() and fa.std(0).mean() > 1e-3  # the calibrated fake spreads features
    out = metric.compute()
    assert (out["n_fake"], out["n_real"]) == (44, 40)
    # naive: np.cov of the stored features; sqrtm of 2048 x 2048 would take ~15 s, so the trace of
    # the square root is taken by the eigenvalues of the small Gram product instead
    ca, cr = (fa - fa.mean(0)) / np.sqrt(43), (ra - ra.mean(0)) / np.sqrt(39)
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvals((ca @ cr.T) @ (cr @ ca.T)).real, 0, None)).sum()
    naive = ((fa.mean(0) - ra.mean(0)) ** 2).sum() + np.trace(np.cov(fa, rowvar=False)) + np.trace(
        np.cov(ra, rowvar=False)) - 2 * tr_sqrt
    assert out["fid"] == pytest.approx(naive, rel=1e-6)
    assert out["fid"] > 0


def test_missing_inception_offline_is_one_clear_error(weights_cache: Path) -> None:
    with pytest.raises(WeightsNotFoundError) as err:
        load_art_inception()
    assert "stylekernel weights download art_inception" in str(err.value)
    assert weight_files.spec("art_inception").url in str(err.value)


def test_incomplete_inception_file_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "art_inception.pth"
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.zeros(32, 3, 3, 3)}, bad)
    with pytest.raises(CheckpointError, match="not the art Inception"):
        load_art_inception(bad)


def _high_precision_fid(a: np.ndarray, b: np.ndarray, digits: int = 40) -> float:
    """The FID formula evaluated with ``digits`` significant digits (mpmath), from the float64 features.

    tr sqrt(S1 S2) is the nuclear norm of C1 C2^T / sqrt((n1 - 1)(n2 - 1)) for the centred
    features C1 (n1, D), C2 (n2, D): an n1 x n2 SVD, cheap at high precision.
    """
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = digits
    A, B = mpmath.matrix(a.tolist()), mpmath.matrix(b.tolist())
    (n1, d), n2 = a.shape, b.shape[0]
    ma = [mpmath.fsum(A[i, j] for i in range(n1)) / n1 for j in range(d)]
    mb = [mpmath.fsum(B[i, j] for i in range(n2)) / n2 for j in range(d)]
    ca = mpmath.matrix([[A[i, j] - ma[j] for j in range(d)] for i in range(n1)])
    cb = mpmath.matrix([[B[i, j] - mb[j] for j in range(d)] for i in range(n2)])
    trace_sqrt = mpmath.fsum(mpmath.svd_r(ca * cb.T, compute_uv=False)) / mpmath.sqrt((n1 - 1) * (n2 - 1))
    dist = mpmath.fsum((ma[j] - mb[j]) ** 2 for j in range(d))
    tr1 = mpmath.fsum(ca[i, j] ** 2 for i in range(n1) for j in range(d)) / (n1 - 1)
    tr2 = mpmath.fsum(cb[i, j] ** 2 for i in range(n2) for j in range(d)) / (n2 - 1)
    return float(dist + tr1 + tr2 - 2 * trace_sqrt)


def _singular_sets(seed: int = 0, n: int = 20, d: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Two non-negative feature sets with fewer samples than dimensions (singular covariances)."""
    rng = np.random.default_rng(seed)
    return np.abs(rng.normal(size=(n, d))) + 0.3 * rng.random(d), np.abs(rng.normal(size=(n - 3, d)))


def test_both_sqrtm_methods_against_a_40_digit_evaluation() -> None:
    a, b = _singular_sets()
    truth = _high_precision_fid(a, b)
    args = (a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    exact = frechet_distance(*args, sqrtm="exact")
    reference = frechet_distance(*args, sqrtm="reference")
    assert exact == pytest.approx(truth, rel=1e-12)
    assert fid_from_features(a, b) == pytest.approx(truth, rel=1e-12)
    # scipy's Schur sqrtm of a singular product: close, but not to the last digits (measured 7.7e-8 here)
    assert reference == pytest.approx(truth, rel=1e-6)


def test_reference_sqrtm_is_the_reference_arithmetic() -> None:
    """``sqrtm="reference"`` gives art-fid's compute_frechet_distance to the last bit on the same inputs."""
    art_fid = pytest.importorskip("art_fid.art_fid", reason="art-fid (the reference) is not installed")
    a, b = _singular_sets(seed=1)
    args = (a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    with pytest.warns(DeprecationWarning):  # the reference passes scipy's deprecated `disp`
        ref = float(art_fid.compute_frechet_distance(*args))
    assert frechet_distance(*args, sqrtm="reference") == ref


def test_reference_sqrtm_imaginary_result_is_reported_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    from stylekernel_eval.metrics import fid as fid_module

    def complex_sqrtm(m: np.ndarray) -> np.ndarray:
        return m.astype(np.complex128) + 0.5j

    monkeypatch.setattr(scipy.linalg, "sqrtm", complex_sqrtm)
    a, b = _singular_sets(d=16)
    with pytest.raises(fid_module.ReferenceSqrtmError, match="imaginary component 0.5"):
        fid_module.reference_trace_sqrt(np.cov(a, rowvar=False), np.cov(b, rowvar=False))
    with pytest.raises(ConfigError, match="sqrtm must be one of"):
        frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False), sqrtm="schur")  # type: ignore[arg-type]


def _failing_sqrtm(failure: str) -> Any:
    """A stand-in for scipy.linalg.sqrtm that fails the way scipy can: it raises, gives nan, or is complex."""

    def sqrtm(m: np.ndarray) -> np.ndarray:
        if failure == "raises":
            raise np.linalg.LinAlgError("Matrix is singular")
        if failure == "nan":
            return np.full_like(m, np.nan)
        return m.astype(np.complex128) + 0.5j

    return sqrtm


@pytest.mark.parametrize("failure, reason", [
    ("raises", "scipy's sqrtm raised LinAlgError: Matrix is singular, art-fid raises"),
    ("nan", "not finite even with 1e-06 added to both diagonals, art-fid returns nan/inf"),
    ("complex", "imaginary component 0.5, art-fid raises"),
])
def test_every_way_the_reference_sqrtm_fails_is_named(monkeypatch: pytest.MonkeyPatch, failure: str, reason: str) -> None:
    from stylekernel_eval.metrics import fid as fid_module

    calls: list[int] = []
    sqrtm = _failing_sqrtm(failure)
    monkeypatch.setattr(scipy.linalg, "sqrtm", lambda m: calls.append(1) or sqrtm(m))
    a, b = _singular_sets(d=16)
    with pytest.raises(fid_module.ReferenceSqrtmError) as err:
        fid_module.reference_trace_sqrt(np.cov(a, rowvar=False), np.cov(b, rowvar=False))
    assert str(err.value) == reason
    assert len(calls) == (2 if failure == "nan" else 1)  # the reference retries a non-finite result once, with eps


@pytest.mark.parametrize("failure", ["raises", "nan", "complex"])
def test_fid_metric_falls_back_loudly_where_the_reference_cannot_compute(eval_weights: Path, monkeypatch: pytest.MonkeyPatch,
                                                                          caplog: pytest.LogCaptureFixture,
                                                                          failure: str) -> None:
    """FID and FID_inf: the exact figure, labelled with the reason, and one warning each; never a crash."""
    rng = np.random.default_rng(5)
    fake, real = torch.from_numpy(rng.random((12, 2048))), torch.from_numpy(rng.random((12, 2048)) + 0.1)
    index = torch.arange(12)
    options = dict(keep_features=True, fid_inf_points=3, fid_inf_min_size=6)
    metrics = {m: FID(sqrtm=m, **options) for m in ("exact", "reference")}  # type: ignore[arg-type]
    for metric in metrics.values():
        metric.update_features(fake, real=False, index=index)
        metric.update_features(real, real=True, index=index)
    exact = metrics["exact"].compute()
    monkeypatch.setattr(scipy.linalg, "sqrtm", _failing_sqrtm(failure))
    fallback = metrics["reference"].compute()
    assert fallback["fid"] == exact["fid"] and fallback["fid_inf"] == exact["fid_inf"]
    assert fallback["sqrtm"] == fallback["fid_inf_sqrtm"] and fallback["sqrtm"].startswith("exact (reference sqrtm failed: ")
    assert exact["sqrtm"] == exact["fid_inf_sqrtm"] == "exact" and "fid_exact" not in fallback
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert [w.split(":")[0] for w in warned] == ["FID", "FID_inf"] and all("exact value is reported instead" in w for w in warned)


@pytest.mark.slow  # two 2048 x 2048 scipy sqrtm (~30 CPU s each)
def test_reference_sqrtm_failure_with_real_scipy_falls_back_as_art_fid_raises(eval_weights: Path,
                                                                              caplog: pytest.LogCaptureFixture) -> None:
    """A set where scipy's own sqrtm (no stand-in) fails: art-fid raises, our default reports the labelled exact FID.

    Features of magnitude 1e4 (12 and 9 of them, 2048-d): the rounding of the product's ~2000 zero
    eigenvalues scales with its norm, and their square roots give an imaginary diagonal far beyond
    the reference's 1e-3 tolerance.
    """
    art_fid = pytest.importorskip("art_fid.art_fid", reason="art-fid (the reference) is not installed")
    rng = np.random.default_rng(5)
    fake, real = (torch.from_numpy(1e4 * rng.random((n, 2048)) + shift) for n, shift in ((12, 0.0), (9, 100.0)))
    metrics = {m: FID(sqrtm=m) for m in ("exact", "reference")}
    for metric in metrics.values():
        metric.update_features(fake, real=False)
        metric.update_features(real, real=True)
    f, r = fake.numpy(), real.numpy()
    with pytest.raises(ValueError, match="Imaginary component"), pytest.warns(DeprecationWarning):
        art_fid.compute_frechet_distance(f.mean(0), np.cov(f, rowvar=False), r.mean(0), np.cov(r, rowvar=False))
    exact, fallback = metrics["exact"].compute(), metrics["reference"].compute()
    assert fallback["fid"] == exact["fid"] and "fid_exact" not in fallback
    assert fallback["sqrtm"].startswith("exact (reference sqrtm failed: imaginary component "), fallback["sqrtm"]
    assert "reference's sqrtm failed" in caplog.text


@pytest.mark.slow  # two 2048 x 2048 scipy sqrtm (~30 CPU s each)
def test_fid_metric_reference_mode_reports_both_and_falls_back_loudly(eval_weights: Path, monkeypatch: pytest.MonkeyPatch,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(5)
    fake, real = torch.from_numpy(rng.random((12, 2048))), torch.from_numpy(rng.random((9, 2048)) + 0.1)
    metrics = {m: FID(sqrtm=m) for m in ("exact", "reference")}
    for metric in metrics.values():
        metric.update_features(fake, real=False)
        metric.update_features(real, real=True)
    exact, reference = metrics["exact"].compute(), metrics["reference"].compute()
    assert exact["sqrtm"] == "exact" and "fid_exact" not in exact
    assert reference["sqrtm"] == "reference" and reference["fid_exact"] == exact["fid"]
    assert reference["fid"] == pytest.approx(exact["fid"], rel=1e-6) and reference["fid"] != exact["fid"]
    monkeypatch.setattr(scipy.linalg, "sqrtm", lambda m: m.astype(np.complex128) + 0.5j)
    failing = FID(sqrtm="reference")
    failing.update_features(fake, real=False)
    failing.update_features(real, real=True)
    fallback = failing.compute()
    assert fallback["fid"] == exact["fid"] and fallback["sqrtm"] == "exact (reference sqrtm failed: imaginary component 0.5, art-fid raises)"
    assert "the exact value is reported instead" in caplog.text
