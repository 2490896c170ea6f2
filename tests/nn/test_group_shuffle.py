from __future__ import annotations

import pytest
import torch

from stylekernel.errors import ConfigError
from stylekernel.nn.group_shuffle import GroupShuffle


@pytest.mark.parametrize("c, g", [(8, 2), (12, 3), (512, 64)])
def test_shuffle_matches_index_rule(c: int, g: int) -> None:
    x = torch.arange(c, dtype=torch.float32).view(1, c, 1, 1).expand(2, c, 3, 3).contiguous()
    y = GroupShuffle(c, g)(x)
    per = c // g
    # group gi of the output, slot i, holds input channel i * G + gi
    expected = [i * g + gi for gi in range(g) for i in range(per)]
    assert y[0, :, 0, 0].tolist() == [float(e) for e in expected]
    assert sorted(y[1, :, 2, 2].tolist()) == list(map(float, range(c)))  # a permutation


def test_no_shuffle_is_identity() -> None:
    x = torch.randn(1, 8, 2, 2)
    assert torch.equal(GroupShuffle(8, 4, shuffle=False)(x), x)


def test_groups_must_divide_channels() -> None:
    with pytest.raises(ConfigError, match="groups"):
        GroupShuffle(512, 48)
