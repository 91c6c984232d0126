"""Generator and discriminator networks (gankit.nets): shapes, ranges, initialisation, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit.config import Config
from gankit.models import MODELS, DataInfo
from gankit.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from gankit.nets.dcgan import base_side
from gankit.nets.init import dcgan_init
from gankit.registry import GankitError

RESOLUTIONS = [8, 28, 32, 64]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# ----------------------------------------------------------------------------- MLP


def test_mlp_vectors():
    G = MLPGenerator(z_dim=5, out_shape=(2,), width=16, depth=2)
    D = MLPDiscriminator((2,), width=16, depth=2)
    x = G(torch.randn(7, 5))
    assert x.shape == (7, 2)
    assert not isinstance(G.net[-1], nn.Tanh)  # vectors are unbounded (linear output)
    assert D(x).shape == (7,)
    assert D(torch.randn(1, 2)).shape == (1,)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("res", RESOLUTIONS)
def test_mlp_images(channels, res):
    shape = (channels, res, res)
    G = MLPGenerator(z_dim=4, out_shape=shape, width=8, depth=1)
    D = MLPDiscriminator(shape, width=8, depth=1)
    x = G(torch.randn(3, 4) * 50)  # large noise to push tanh towards saturation
    assert x.shape == (3, *shape)
    assert x.min() >= -1.0 and x.max() <= 1.0
    assert D(x).shape == (3,)


def test_mlp_depth_and_width_build_the_stated_layers():
    G = MLPGenerator(z_dim=3, out_shape=(2,), width=11, depth=4)
    linears = [m for m in G.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 5
    assert [l.out_features for l in linears] == [11, 11, 11, 11, 2]
    D = MLPDiscriminator((1, 4, 4), width=6, depth=3)
    linears = [m for m in D.modules() if isinstance(m, nn.Linear)]
    assert linears[0].in_features == 16 and [l.out_features for l in linears] == [6, 6, 6, 1]
    assert sum(isinstance(m, nn.LeakyReLU) and m.negative_slope == 0.2 for m in D.modules()) == 3


def test_mlp_generator_batchnorm_normalises_every_hidden_layer():
    G = MLPGenerator(z_dim=3, out_shape=(1, 4, 4), width=12, depth=3, batchnorm=True)
    norms = [m for m in G.modules() if isinstance(m, nn.BatchNorm1d)]
    assert len(norms) == 3 and all(n.num_features == 12 for n in norms)
    hidden = [m for m in G.modules() if isinstance(m, nn.Linear)][:-1]
    assert all(l.bias is None for l in hidden)  # batch norm's shift replaces the bias
    G.train()
    h = G.net[:3](torch.randn(64, 3) * 5 + 2)  # Linear → BatchNorm → ReLU of the first layer
    pre = G.net[:2](torch.randn(64, 3) * 5 + 2)
    assert torch.allclose(pre.mean(0), torch.zeros(12), atol=1e-5)
    assert (h >= 0).all() and G(torch.randn(5, 3)).shape == (5, 1, 4, 4)


# ----------------------------------------------------------------------------- DCGAN


@pytest.mark.parametrize(
    ("res", "expected"),
    [
        (8, (4, 1)),
        (28, (7, 2)),
        (32, (4, 3)),
        (64, (4, 4)),
        (12, (3, 2)),
        (20, (5, 2)),
        (96, (3, 5)),
    ],
)
def test_base_side(res, expected):
    s, n = base_side(res)
    assert (s, n) == expected and s * 2**n == res


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("res", RESOLUTIONS)
def test_dcgan_shapes(channels, res):
    G = DCGANGenerator(z_dim=10, channels=channels, resolution=res, width=4)
    D = DCGANDiscriminator(channels=channels, resolution=res, width=4)
    z = torch.randn(2, 10)
    x = G(z)
    assert x.shape == (2, channels, res, res)
    assert G.out_shape == (channels, res, res)
    logits = D(x)
    assert logits.shape == (2,)
    assert torch.isfinite(logits).all()


def test_dcgan_generator_accepts_4d_noise():
    G = DCGANGenerator(z_dim=6, channels=1, resolution=8, width=4)
    z = torch.randn(3, 6)
    G.eval()
    assert torch.equal(G(z), G(z.view(3, 6, 1, 1)))


@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_generator_output_in_tanh_range(channels):
    G = DCGANGenerator(z_dim=8, channels=channels, resolution=32, width=8)
    with torch.no_grad():
        G.net[-2].weight.mul_(1000)  # blow the output layer up so tanh saturates
        x = G(torch.randn(4, 8))
    assert isinstance(G.net[-1], nn.Tanh)
    assert x.min().item() >= -1.0 and x.max().item() <= 1.0
    assert (x.abs() > 0.99).float().mean() > 0.8  # really saturated, so the bound was tested


def test_dcgan_init_statistics():
    G = DCGANGenerator(z_dim=100, channels=3, resolution=64, width=64)
    D = DCGANDiscriminator(channels=3, resolution=64, width=64)
    convs = [
        m for net in (G, D) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
    ]
    bns = [m for net in (G, D) for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(convs) == 10 and len(bns) == 7
    w = torch.cat([m.weight.flatten() for m in convs])
    assert w.std().item() == pytest.approx(0.02, rel=0.02)
    assert abs(w.mean().item()) < 1e-3
    for m in convs:
        assert m.bias is None
        if m.weight.numel() > 5000:
            assert m.weight.std().item() == pytest.approx(0.02, rel=0.1)
    g = torch.cat([m.weight for m in bns])
    assert g.mean().item() == pytest.approx(1.0, abs=0.005)
    assert g.std().item() == pytest.approx(0.02, rel=0.2)
    assert all((m.bias == 0).all() for m in bns)


def test_dcgan_init_zeroes_linear_bias():
    net = nn.Sequential(nn.Linear(100, 400), nn.BatchNorm1d(400))
    nn.init.constant_(net[0].bias, 3.0)
    dcgan_init(net)
    assert (net[0].bias == 0).all()
    assert net[0].weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert net[1].weight.mean().item() == pytest.approx(1.0, abs=0.01)


def test_dcgan_discriminator_has_no_batchnorm_on_input_layer():
    D = DCGANDiscriminator(channels=3, resolution=32, width=8)
    layers = list(D.net)
    assert isinstance(layers[0], nn.Conv2d) and isinstance(layers[1], nn.LeakyReLU)
    assert layers[1].negative_slope == 0.2


def _view(D: DCGANDiscriminator) -> list[int]:
    """Height and width of the pixels one central last-layer feature of D depends on."""
    D.eval()
    x = torch.zeros(1, D.net[0].in_channels, 28, 28, requires_grad=True)
    D.net[:-1](x)[0, 0, 3, 3].backward()
    seen = (x.grad[0].abs().sum(0) > 0).nonzero()
    return (seen.max(0).values - seen.min(0).values + 1).tolist()


def test_dcgan_discriminator_extra_layers_widen_its_view():
    D0 = DCGANDiscriminator(channels=3, resolution=28, width=8)
    D2 = DCGANDiscriminator(channels=3, resolution=28, width=8, extra_layers=2)
    extra = [m for m in D2.net if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert [(m.in_channels, m.out_channels, m.stride) for m in extra] == [(16, 16, (1, 1))] * 2
    n0, n2 = (sum(p.numel() for p in d.parameters()) for d in (D0, D2))
    assert n2 - n0 == 2 * (16 * 16 * 9 + 2 * 16)  # two bias-free 3×3 convs, each with a BN
    # 4×4/2 then 4×4/2: 10×10 pixels; each 3×3 conv at stride 4 adds 8
    assert _view(D0) == [10, 10]
    assert _view(DCGANDiscriminator(channels=3, resolution=28, width=8, extra_layers=1)) == [18, 18]
    assert _view(D2) == [26, 26]


def test_dcgan_generator_extra_layers_deepen_it_at_its_smallest_resolution():
    G0 = DCGANGenerator(z_dim=5, channels=3, resolution=28, width=8)
    G2 = DCGANGenerator(z_dim=5, channels=3, resolution=28, width=8, extra_layers=2)
    extra = [m for m in G2.net if isinstance(m, nn.Conv2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size) for m in extra] == [(16, 16, (3, 3))] * 2
    n0, n2 = (sum(p.numel() for p in g.parameters()) for g in (G0, G2))
    assert n2 - n0 == 2 * (16 * 16 * 9 + 2 * 16)  # two bias-free 3×3 convs, each with a BN
    z = torch.randn(4, 5)
    assert G2(z).shape == G0(z).shape == (4, 3, 28, 28)
    # without extra layers the modules (and so old checkpoints' state dicts) are unchanged
    assert list(G0.state_dict()) == list(DCGANGenerator(5, 3, 28, 8, 0).state_dict())
    assert "net.3.weight" in G0.state_dict() and G0.net[3].kernel_size == (4, 4)
    m = _model("dcgan", "image", (1, 28, 28), width=4, g_extra_layers=1)
    assert sum(isinstance(x, nn.Conv2d) for x in m.nets["G"].net) == 1
    with pytest.raises(GankitError, match="model.g_extra_layers is for DCGAN networks"):
        _model("gan", "vector", (2,), width=4, g_extra_layers=1)


def test_d_width_sets_only_the_discriminator():
    m = _model("dcgan", "image", (1, 28, 28), width=4, d_width=12, d_extra_layers=1)
    assert m.nets["D"].net[0].out_channels == 12
    assert m.nets["G"].net[0].out_channels == 8  # G keeps model.width (4·2 at 7×7)
    assert m.discriminate(torch.randn(3, 1, 28, 28)).shape == (3,)
    mlp = _model("gan", "vector", (2,), width=4, depth=1, d_width=9)
    assert mlp.nets["D"].net[1].out_features == 9
    with pytest.raises(GankitError, match="model.d_extra_layers is for DCGAN networks"):
        _model("gan", "vector", (2,), width=4, d_extra_layers=1)


@pytest.mark.parametrize("res", [30, 100, 5, 7, 2, 1, 0, 15, 36 * 5])
def test_invalid_dcgan_resolution(res):
    with pytest.raises(GankitError) as e:
        DCGANGenerator(z_dim=4, channels=1, resolution=res, width=4)
    msg = str(e.value)
    assert f"got {res}" in msg and "data.resolution" in msg
    with pytest.raises(GankitError, match="data.resolution"):
        DCGANDiscriminator(channels=1, resolution=res, width=4)


# ----------------------------------------------------------------------------- models


def _model(name: str, kind: str, shape: tuple[int, ...], **model_cfg):
    cfg = Config.from_dict({"model": {"name": name, **model_cfg}})
    return MODELS.get(name)(cfg, DataInfo(kind, shape))


def test_dcgan_model_rejects_vectors_and_non_square():
    with pytest.raises(GankitError, match="DCGAN networks need image data; set model.net=mlp"):
        _model("dcgan", "vector", (2,), width=4, net="dcgan")
    with pytest.raises(GankitError, match="square images, got 8×16; set data.resolution"):
        _model("dcgan", "image", (1, 8, 16), width=4, net="dcgan")
    with pytest.raises(GankitError, match="data.resolution"):
        _model("dcgan", "image", (1, 30, 30), width=4, net="dcgan")


@pytest.mark.parametrize(
    ("name", "shape"), [("gan", (2,)), ("gan", (3, 8, 8)), ("dcgan", (1, 28, 28))]
)
def test_models_generate_data_shaped_samples(name, shape):
    m = _model(name, "image" if len(shape) == 3 else "vector", shape, width=4, z_dim=6)
    m.eval()
    x = m.generate(m.noise(5, "cpu"))
    assert x.shape == (5, *shape)
    if len(shape) == 3:
        assert x.abs().max() <= 1.0
    assert set(m.optimizers()) == {"D", "G"}
    assert [p.name for p in m.phases()] == ["D", "G"]
