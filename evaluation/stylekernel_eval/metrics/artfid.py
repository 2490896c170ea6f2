"""ArtFID = (1 + LPIPS) x (1 + FID) (Wright and Ommer, GCPR 2022), and ArtFID_inf with FID_inf.

:class:`ArtFID` composes an :class:`~stylekernel_eval.metrics.lpips.LPIPS` (content term:
stylized vs content, per pair) and a :class:`~stylekernel_eval.metrics.fid.FID` (style term:
stylized set vs style set). Both are synced across processes on ``compute``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from torch import Tensor
from torchmetrics import Metric

from stylekernel_eval.metrics.fid import FID, SqrtmMethod
from stylekernel_eval.metrics.lpips import LPIPS
from stylekernel_eval.protocol import (
    DEFAULT_FID_INF_MIN_SIZE,
    DEFAULT_FID_INF_POINTS,
    DEFAULT_FID_SQRTM,
    DEFAULT_INCEPTION_WEIGHTS,
    DEFAULT_LPIPS_NET,
)

FIDVariant = Literal["fid", "fid_inf"]


def art_fid(lpips: float, fid: float) -> float:
    """ArtFID from the mean LPIPS and the FID (or FID_inf, which gives ArtFID_inf)."""
    return (1.0 + float(lpips)) * (1.0 + float(fid))


def combine(lpips_result: dict[str, Any], fid_result: dict[str, Any]) -> dict[str, Any]:
    """Computed LPIPS and FID results -> ``{"lpips", "fid", ..., "art_fid"[, "art_fid_inf"]}``."""
    lp = float(lpips_result["lpips"])
    out: dict[str, Any] = {"lpips": lp, **fid_result, "art_fid": art_fid(lp, fid_result["fid"])}
    if "fid_inf" in fid_result:
        out["art_fid_inf"] = art_fid(lp, fid_result["fid_inf"])
    return out


class ArtFID(Metric):
    """ArtFID of a set of stylizations.

    ``update(stylized=..., content=..., style=..., index=...)``: any of them may be given;
    ``stylized`` and ``content`` (B, 3, H, W) are pairs (LPIPS and the FID's stylized set),
    ``style`` (B', 3, H', W') adds to the FID's style set. ``compute()`` returns the LPIPS and
    FID parts and ``art_fid`` (plus ``fid_inf``/``art_fid_inf`` with ``variant="fid_inf"``).
    """

    full_state_update: ClassVar[bool] = False
    is_differentiable: ClassVar[bool] = False
    higher_is_better: ClassVar[bool] = False

    def __init__(
        self,
        lpips_net: str = DEFAULT_LPIPS_NET,
        inception_weights: str = DEFAULT_INCEPTION_WEIGHTS,
        fid_resize: int | None = None,
        variant: FIDVariant = "fid",
        fid_inf_points: int = DEFAULT_FID_INF_POINTS,
        fid_inf_min_size: int = DEFAULT_FID_INF_MIN_SIZE,
        seed: int = 0,
        fid_sqrtm: SqrtmMethod = DEFAULT_FID_SQRTM,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.variant = variant
        self.lpips = LPIPS(net=lpips_net)  # type: ignore[arg-type]
        self.fid = FID(
            weights=inception_weights,
            resize=fid_resize,
            keep_features=variant == "fid_inf",
            fid_inf_points=fid_inf_points,
            fid_inf_min_size=fid_inf_min_size,
            seed=seed,
            sqrtm=fid_sqrtm,
        )

    def update(
        self,
        stylized: Tensor | None = None,
        content: Tensor | None = None,
        style: Tensor | None = None,
        index: Tensor | None = None,
        style_index: Tensor | None = None,
    ) -> None:
        """Add pairs (stylized, content) and/or style images; see the class docstring."""
        if (stylized is None) != (content is None):
            raise ValueError("ArtFID.update: give stylized and content together")
        if stylized is not None and content is not None:
            self.lpips.update(stylized, content)
            self.fid.update(stylized, real=False, index=index)
        if style is not None:
            self.fid.update(style, real=True, index=style_index)

    def compute(self) -> dict[str, Any]:
        return combine(self.lpips.compute(), self.fid.compute())

    def reset(self) -> None:
        super().reset()
        self.lpips.reset()
        self.fid.reset()
