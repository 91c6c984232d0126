"""DCGAN networks (Radford et al. 2015) for any square resolution of the form s·2ⁿ, s ∈ 3..7.

Resolution, width and channels are parameters of one pair of networks: 28 = 7·2², 32 = 4·2³,
64 = 4·2⁴, 8 = 4·2¹. The generator projects z to s×s with a transposed convolution, then doubles
the side n times (batch norm + ReLU, tanh output); the discriminator mirrors it with strided
convolutions (LeakyReLU 0.2, no batch norm on the input layer) down to one logit.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.nets.init import dcgan_init
from gankit.nets.layers import MinibatchStd, noise_layer, with_spectral_norm, with_weight_norm
from gankit.registry import GankitError


def base_side(resolution: int) -> tuple[int, int]:
    """Split ``resolution`` into (s, n) with resolution = s·2ⁿ, 3 ≤ s ≤ 7, n ≥ 1 maximal."""
    n, s = 0, resolution
    while s % 2 == 0 and s // 2 >= 3:
        s //= 2
        n += 1
    if n == 0 or s > 7:
        raise GankitError(
            f"DCGAN needs an image side of the form s·2^n with 3 ≤ s ≤ 7 (e.g. 28, 32, 64), "
            f"got {resolution}; set data.resolution"
        )
    return s, n


class DCGANGenerator(nn.Module):
    """``extra_layers``: 3×3 stride-1 conv layers (batch norm + ReLU) at the smallest
    resolution, a deeper G to match a deeper D (PacGAN's Stacked MNIST G has four layers)."""

    def __init__(
        self, z_dim: int, channels: int, resolution: int, width: int = 64, extra_layers: int = 0
    ):
        super().__init__()
        self.z_dim, self.out_shape = z_dim, (channels, resolution, resolution)
        s, n = base_side(resolution)
        c = width * 2 ** (n - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, c, s, 1, 0, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(True),
        ]
        for _ in range(extra_layers):
            layers += [nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(True)]
        for _ in range(n - 1):
            layers += [
                nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c // 2),
                nn.ReLU(True),
            ]
            c //= 2
        layers += [nn.ConvTranspose2d(c, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.z_dim, 1, 1))


class DCGANDiscriminator(nn.Module):
    """``batchnorm=False`` for critics with per-sample penalties (WGAN-GP); ``mbstd`` adds a
    minibatch-std feature map before the output layer; ``spectral_norm``/``weight_norm`` wrap
    every conv; ``noise``: Gaussian noise of that std on the input and every hidden layer while
    training; ``extra_layers``: 3×3 stride-1 convs at the smallest resolution, which widen the
    view of D's last features (at 28 px from 10×10 pixels to 18×18 with one, 26×26 with two)."""

    def __init__(
        self,
        channels: int,
        resolution: int,
        width: int = 64,
        batchnorm: bool = True,
        mbstd: bool = False,
        spectral_norm: bool = False,
        noise: float = 0.0,
        weight_norm: bool = False,
        extra_layers: int = 0,
    ):
        super().__init__()
        s, n = base_side(resolution)
        layers: list[nn.Module] = [
            *noise_layer(noise),
            nn.Conv2d(channels, width, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, True),
            *noise_layer(noise),
        ]

        def block(conv: nn.Conv2d) -> list[nn.Module]:
            c_out = conv.out_channels
            norm = nn.BatchNorm2d(c_out) if batchnorm else nn.Identity()
            return [conv, norm, nn.LeakyReLU(0.2, True), *noise_layer(noise)]

        c = width
        for _ in range(n - 1):
            layers += block(nn.Conv2d(c, c * 2, 4, 2, 1, bias=not batchnorm))
            c *= 2
        for _ in range(extra_layers):
            layers += block(nn.Conv2d(c, c, 3, 1, 1, bias=not batchnorm))
        if mbstd:
            layers.append(MinibatchStd())
        layers.append(nn.Conv2d(c + int(mbstd), 1, s, 1, 0, bias=False))
        self.net = nn.Sequential(*layers)
        dcgan_init(self)
        if weight_norm:
            with_weight_norm(self)
        if spectral_norm:
            with_spectral_norm(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()
