"""StyleKernelNet: the network of "Learning Dynamic Style Kernels" (Xu, Long, Nie, CVPR 2023).

One image through the code (shapes for a 256x256 content image, relu4_1 level):

    content, style (B, 3, 256, 256)
      -> VGGEncoder                         Zc, Zs: (B, 512, 32, 32)
      -> StyleAlignmentEncoding + CGM gate  Zcs:    (B, 512, 32, 32)
      -> StyleKernelGenerator               kernels (B, G, k*k, 32, 32), bias (B, 512, 32, 32)
      -> GroupShuffle(mvn(Zc))              X:      (B, 512, 32, 32)
      -> DynamicConv(X, kernels, bias)      Z̄cs:    (B, 512, 32, 32)
      -> Decoder                            (B, 3, 256, 256)

With ``use_relu5_1`` a second branch runs at relu5_1 and its output is upsampled and added
before a 3x3 merge conv (the SANet two-level layout). Every reconstructed choice of
``METHOD.md`` is a constructor argument.

Inference tiles the transform (``stylekernel.tiling.tiled_transform``): ``style_state`` gives
each level's attention keys/values (once per style), ``transform_global`` the content map's
mean/std, and ``transform_local`` runs SAE + CGM + kernels + dynamic conv on a tile with
``transform_halo`` relu4_1 cells of context. ``transform`` is the same composition on the whole
map, so training and tiled inference run the same code.
"""

from __future__ import annotations

from typing import Any, Literal, Optional


import torch.nn.functional as F
from torch import Tensor, nn

from stylekernel.baselines.registry import register_model
from stylekernel.errors import check
from stylekernel.nn.attention import QUERY_CHUNK_SIZE
from stylekernel.nn.base import StyleTransferNet
from stylekernel.nn.cgm import ContentGatingModulation, GateMode
from stylekernel.nn.dynamic_conv import DynamicConv, PaddingMode
from stylekernel.nn.functional import mean_std, mvn_with_stats
from stylekernel.nn.group_shuffle import GroupShuffle
from stylekernel.nn.kernels import KernelNorm, StyleKernelGenerator
from stylekernel.nn.sae import StyleAlignmentEncoding
from stylekernel.tiling import halo

CHANNELS = 512


class StyleKernelBranch(nn.Module):
    """SAE -> CGM -> kernel generation -> GS -> dynamic conv at one encoder level.

    forward(zc: (B, 512, H, W), zs: (B, 512, H', W')) -> (B, 512, H, W).
    """

    def __init__(
        self,
        *,
        alignment: Literal["sae", "plain"],
        key_channels: Optional[int],
        gate: GateMode,
        gate_temperature: float,
        gate_hidden_channels: int,
        kernel_size: int,
        groups: int,
        kernel_hidden_channels: int,
        kernel_norm: KernelNorm,
        group_shuffle: bool,
        normalize_content: bool,
        padding_mode: PaddingMode,
        max_style_tokens: Optional[int],
        query_chunk_size: Optional[int],
    ) -> None:
        super().__init__()
        check(alignment in ("sae", "plain"), f"alignment must be 'sae' or 'plain', got {alignment!r}")
        check(gate in ("none", "soft", "hard"), f"gate must be one of ('none', 'soft', 'hard'), got {gate!r}")
        self.sae = StyleAlignmentEncoding(
            CHANNELS,
            key_channels=key_channels,
            normalize=alignment == "sae",
            max_style_tokens=max_style_tokens,
            query_chunk_size=query_chunk_size,
        )
        self.cgm = (
            ContentGatingModulation(CHANNELS, gate_hidden_channels, mode=gate, temperature=gate_temperature)
            if gate != "none"
            else None
        )
        self.kernels = StyleKernelGenerator(CHANNELS, groups, kernel_size, kernel_hidden_channels, kernel_norm)
        self.group_shuffle = GroupShuffle(CHANNELS, groups, shuffle=group_shuffle)
        self.dynamic_conv = DynamicConv(CHANNELS, padding_mode=padding_mode)
        self.normalize_content = normalize_content
        self.halo = max((halo(list(self.cgm.head)) if self.cgm is not None else 0) + halo(list(self.kernels.body)), kernel_size // 2)

    def style_state(self, zs: Tensor) -> tuple[Tensor, Tensor]:
        """zs (B, 512, Hs, Ws) -> the attention's keys and values (see ``StyleAlignmentEncoding.style_state``)."""
        return self.sae.style_state(zs)

    def local(self, zc: Tensor, stats: tuple[Tensor, Tensor], style: tuple[Tensor, Tensor]) -> Tensor:
        """The branch on a tile: zc (B, 512, h, w), the whole map's (mean, std) (B, 512, 1, 1)
        fp32, style = :meth:`style_state` -> (B, 512, h, w); exact at cells >= ``halo`` from a
        tile edge that is not an image edge."""
        xn = mvn_with_stats(zc, stats).to(zc.dtype)  # mvn with the whole map's statistics, once
        t = self.cgm.threshold_normalized(xn) if self.cgm is not None else None
        zcs = self.sae.attend(xn if self.sae.normalize else zc, style, self.cgm, t)
        kernels, bias = self.kernels(zcs)
        x = xn if self.normalize_content else zc
        return self.dynamic_conv(self.group_shuffle(x), kernels, bias)

    def forward(self, zc: Tensor, zs: Tensor) -> Tensor:
        return self.local(zc, mean_std(zc), self.style_state(zs))


@register_model("stylekernel")
class StyleKernelNet(StyleTransferNet):
    """The dynamic style-kernel network; see the module docstring for the data flow.

    Args:
        encoder_weights: VGG19 source: torchvision | vgg_normalised | random | auto | a file path.
        alignment: "sae" (Q/K on mean-variance-normalised features) or "plain" attention.
        key_channels: query/key width of the attention (default: 512).
        gate: CGM mode: none | soft | hard.
        gate_temperature: temperature T of the gate (relative to the row maximum).
        gate_hidden_channels: width of the CGM threshold head.
        kernel_size: k of the per-pixel k x k kernels (positive, odd).
        groups: G channel groups sharing a kernel (must divide 512).
        kernel_hidden_channels: width of the kernel generator's hidden layer.
        kernel_norm: none | softmax over the k*k taps.
        group_shuffle: shuffle channels before grouping (False: contiguous groups).
        normalize_content: apply the kernels to mvn(Zc) (True) or to Zc.
        dynamic_padding: padding of the dynamic convolution: zeros | reflect | replicate.
        use_relu5_1: add the second, relu5_1 level.
        max_style_tokens: cap on style positions in attention (random subset in training,
            evenly spaced in eval); null keeps all.
        query_chunk_size: content positions per attention chunk (memory bound); null = one chunk.
    """

    def __init__(
        self,
        encoder_weights: str = "torchvision",
        alignment: Literal["sae", "plain"] = "sae",
        key_channels: Optional[int] = None,
        gate: GateMode = "soft",
        gate_temperature: float = 0.1,
        gate_hidden_channels: int = 128,
        kernel_size: int = 3,
        groups: int = 64,
        kernel_hidden_channels: int = 256,
        kernel_norm: KernelNorm = "none",
        group_shuffle: bool = True,
        normalize_content: bool = True,
        dynamic_padding: PaddingMode = "zeros",
        use_relu5_1: bool = False,
        max_style_tokens: Optional[int] = None,
        query_chunk_size: Optional[int] = QUERY_CHUNK_SIZE,
    ) -> None:
        super().__init__()
        branch_args = dict(
            alignment=alignment,
            key_channels=key_channels,
            gate=gate,
            gate_temperature=gate_temperature,
            gate_hidden_channels=gate_hidden_channels,
            kernel_size=kernel_size,
            groups=groups,
            kernel_hidden_channels=kernel_hidden_channels,
            kernel_norm=kernel_norm,
            group_shuffle=group_shuffle,
            normalize_content=normalize_content,
            padding_mode=dynamic_padding,
            max_style_tokens=max_style_tokens,
            query_chunk_size=query_chunk_size,
        )
        self.branch4 = StyleKernelBranch(**branch_args)  # type: ignore[arg-type]
        self.use_relu5_1 = use_relu5_1
        if use_relu5_1:
            self.branch5 = StyleKernelBranch(**branch_args)  # type: ignore[arg-type]
            self.merge = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(CHANNELS, CHANNELS, 3))
            self.feature_layers = ("relu4_1", "relu5_1")
            self.stride = 16
        self.build_encoder_decoder(encoder_weights)

        # tiled transform: halo in relu4_1 cells (a relu5_1 cell spans 2 of them; + the merge conv)
        h = self.branch4.halo
        if use_relu5_1:
            h = max(h, 2 * self.branch5.halo) + halo(list(self.merge))
            h += h % 2
        self.transform_halo = h

    def _branches(self) -> dict[str, StyleKernelBranch]:
        return {"relu4_1": self.branch4, **({"relu5_1": self.branch5} if self.use_relu5_1 else {})}

    def style_state(self, style: dict[str, Tensor]) -> dict[str, tuple[Tensor, Tensor]]:
        """Keys and values of each level's attention (depend on the style only)."""
        return {name: branch.style_state(style[name]) for name, branch in self._branches().items()}

    def transform_global(self, content: dict[str, Tensor], style_state: dict[str, tuple[Tensor, Tensor]]) -> dict[str, Any]:
        """The whole content map's mean/std per level (for mvn) + the style state."""
        return {"stats": {name: mean_std(content[name]) for name in self._branches()}, "style": style_state}

    def transform_local(self, content: dict[str, Tensor], state: dict[str, Any]) -> Tensor:
        """{relu4_1[, relu5_1]} of a content tile -> Z̄cs of the tile (B, 512, h, w)."""
        z = self.branch4.local(content["relu4_1"], state["stats"]["relu4_1"], state["style"]["relu4_1"])
        if self.use_relu5_1:
            z5 = self.branch5.local(content["relu5_1"], state["stats"]["relu5_1"], state["style"]["relu5_1"])
            z = self.merge(z + F.interpolate(z5, size=z.shape[-2:], mode="nearest"))
        return z
