"""Decoder: the mirror of VGG19 up to relu4_1 (reflection padding, nearest x2 upsampling).

(B, 512, H/8, W/8) -> (B, 3, H, W). The same layout as the AdaIN/SANet decoders, so their
trained decoders could be ported.
"""

from __future__ import annotations

from torch import Tensor, nn


def _conv(cin: int, cout: int, relu: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3)]
    return layers + [nn.ReLU(inplace=True)] if relu else layers  # in place: same values, one map less


class Decoder(nn.Module):
    """VGG19-mirror decoder from ``in_channels`` features at stride 8 to an RGB image.

    The output is not clamped (the losses see the raw output, as in the peers' training code);
    inference clamps to [0, 1].
    """

    def __init__(self, in_channels: int = 512) -> None:
        super().__init__()
        up = nn.Upsample(scale_factor=2, mode="nearest")
        self.body = nn.Sequential(
            *_conv(in_channels, 256), up,
            *_conv(256, 256), *_conv(256, 256), *_conv(256, 256), *_conv(256, 128), nn.Upsample(scale_factor=2, mode="nearest"),
            *_conv(128, 128), *_conv(128, 64), nn.Upsample(scale_factor=2, mode="nearest"),
            *_conv(64, 64), *_conv(64, 3, relu=False),
        )  # fmt: skip

    def forward(self, z: Tensor) -> Tensor:
        """z: (B, in_channels, h, w) -> (B, 3, 8h, 8w)."""
        return self.body(z)
