"""Channel grouping + shuffle (GS) of the content feature, ShuffleNet style.

With G groups of C/G channels, the shuffle reshapes (B, C, H, W) -> (B, G, C/G, H, W), swaps the
two channel axes and flattens back, so that group g of the result takes channels
g, g + G, g + 2G, ... of the input: every group sees channels from across the whole feature map.
The dynamic convolution then applies one kernel per group and pixel.
"""

from __future__ import annotations

from torch import Tensor, nn

from stylekernel.errors import check


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """(B, C, H, W) -> (B, C, H, W) with channel ``g * (C/G) + i`` taken from ``i * G + g``."""
    b, c, h, w = x.shape
    return x.view(b, c // groups, groups, h, w).transpose(1, 2).reshape(b, c, h, w)


class GroupShuffle(nn.Module):
    """Channel shuffle into ``groups`` groups (identity when ``shuffle=False``: plain grouping)."""

    def __init__(self, channels: int, groups: int, shuffle: bool = True) -> None:
        super().__init__()
        check(groups >= 1, f"GroupShuffle: groups must be >= 1, got {groups}")
        check(channels % groups == 0, f"GroupShuffle: groups ({groups}) must divide channels ({channels})")
        self.groups = groups
        self.shuffle = shuffle

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W), channels reordered so groups are contiguous blocks."""
        return channel_shuffle(x, self.groups) if self.shuffle and self.groups > 1 else x
