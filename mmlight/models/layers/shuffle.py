import torch


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups (ShuffleNet): [a0 a1 b0 b1] -> [a0 b0 a1 b1]."""
    batch, channels, height, width = x.shape
    if channels % groups:
        raise ValueError(f'channel_shuffle: {channels} channels do not split into {groups} groups')
    x = x.view(batch, groups, channels // groups, height, width)
    return x.transpose(1, 2).reshape(batch, channels, height, width)
