"""DiffAugment (gankit.augment): shapes, differentiability, each transform's exact effect, and
its use on every discriminator input of the GAN model."""

from __future__ import annotations

import pytest
import torch

import gankit.models.gan as gan_module
from gankit.augment import (
    POLICIES,
    brightness,
    contrast,
    cutout,
    diff_augment,
    parse_policy,
    saturation,
    translation,
)
from gankit.config import Config
from gankit.models import MODELS, Batch, DataInfo, StepContext
from gankit.models.gan import pack
from gankit.registry import GankitError

TRANSFORMS = [brightness, saturation, contrast, translation, cutout]
ALL = ["color", "translation", "cutout"]


# ----------------------------------------------------------------------------- shape and dtype


@pytest.mark.parametrize("fn", TRANSFORMS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(4, 3, 8, 8), (2, 1, 12, 16)], ids=["square", "wide"])
def test_transform_keeps_shape_and_dtype(fn, dtype, shape):
    x = torch.rand(*shape, dtype=dtype) * 2 - 1
    y = fn(x)
    assert y.shape == x.shape and y.dtype == dtype
    assert torch.isfinite(y).all()


@pytest.mark.parametrize(
    "policy", ["color", "translation", "cutout", "color,translation,cutout", "cutout, color"]
)
def test_policy_keeps_shape_and_dtype(policy):
    for dtype in (torch.float32, torch.float64):
        x = torch.rand(3, 3, 8, 8, dtype=dtype) * 2 - 1
        y = diff_augment(x, parse_policy(policy))
        assert y.shape == x.shape and y.dtype == dtype and y.is_contiguous()


def test_diff_augment_is_differentiable():
    torch.manual_seed(0)
    x = (torch.rand(4, 3, 8, 8) * 2 - 1).requires_grad_(True)
    w = torch.randn(4, 3, 8, 8)
    (diff_augment(x, ALL) * w).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert (x.grad != 0).any(dim=(1, 2, 3)).all(), "every image must receive a gradient"


def test_empty_policy_is_identity():
    x = torch.randn(2, 1, 4, 4)
    assert torch.equal(diff_augment(x, []), x)


# ----------------------------------------------------------------------------- each transform


def test_brightness_adds_one_scalar_per_image():
    torch.manual_seed(0)
    x = torch.rand(16, 3, 5, 5) * 2 - 1
    delta = brightness(x) - x
    per_image = delta.flatten(1)
    assert torch.allclose(per_image, per_image[:, :1].expand_as(per_image), atol=1e-6)
    offsets = per_image[:, 0]
    assert (offsets >= -0.5).all() and (offsets < 0.5).all()
    assert offsets.unique().numel() > 1, "the offset is drawn per image"


def test_saturation_scales_deviation_from_channel_mean():
    torch.manual_seed(1)
    x = torch.rand(8, 3, 4, 4, dtype=torch.float64) * 2 - 1
    y = saturation(x)
    mx, my = x.mean(1, keepdim=True), y.mean(1, keepdim=True)
    assert torch.allclose(mx, my, atol=1e-12), "the per-pixel channel mean is kept"
    k = ((y - my) / (x - mx)).flatten(1)  # one factor per image, in [0, 2)
    assert torch.allclose(k, k[:, :1].expand_as(k), atol=1e-9)
    assert (k[:, 0] >= 0).all() and (k[:, 0] < 2).all()


def test_contrast_scales_deviation_from_image_mean():
    torch.manual_seed(2)
    x = torch.rand(8, 3, 4, 4, dtype=torch.float64) * 2 - 1
    y = contrast(x)
    mx, my = x.mean((1, 2, 3), keepdim=True), y.mean((1, 2, 3), keepdim=True)
    assert torch.allclose(mx, my, atol=1e-12), "each image's mean is kept"
    k = ((y - my) / (x - mx)).flatten(1)  # one factor per image, in [0.5, 1.5)
    assert torch.allclose(k, k[:, :1].expand_as(k), atol=1e-9)
    assert (k[:, 0] >= 0.5).all() and (k[:, 0] < 1.5).all()


@pytest.mark.parametrize("size", [8, 16])
def test_translation_moves_one_hot_pixel_by_at_most_an_eighth(size):
    torch.manual_seed(3)
    n, c = size // 2, size // 2
    x = torch.zeros(64, 2, size, size)
    x[:, :, n, c] = 1.0
    y = translation(x)
    limit = size // 8
    shifts = set()
    for img in y:
        assert torch.equal(img[0], img[1]), "all channels move together"
        ones = (img[0] == 1).nonzero().tolist()
        assert len(ones) == 1 and img.sum().item() == 2.0  # one pixel, nothing else
        (r, q) = ones[0]
        assert abs(r - n) <= limit and abs(q - c) <= limit
        shifts.add((r - n, q - c))
    assert len(shifts) > 1 and any(s != (0, 0) for s in shifts)


def test_translation_is_a_shift_with_zero_fill():
    """Every output pixel is either 0 (shifted in from outside) or the input pixel at a fixed
    per-image offset (dy, dx) with |dy|, |dx| ≤ size/8."""
    torch.manual_seed(4)
    b, h, w = 32, 16, 16
    code = (torch.arange(h * w, dtype=torch.float64) + 1).view(1, 1, h, w)  # all distinct, > 0
    x = code.expand(b, 1, h, w).clone()
    y = translation(x)
    for img in y[:, 0]:
        nz = img.nonzero()
        src = img[nz[:, 0], nz[:, 1]].long() - 1
        dy, dx = src // w - nz[:, 0], src % w - nz[:, 1]
        assert dy.unique().numel() == 1 and dx.unique().numel() == 1
        dy, dx = int(dy[0]), int(dx[0])
        assert abs(dy) <= h // 8 and abs(dx) <= w // 8
        expected = torch.zeros(h, w, dtype=torch.float64)
        ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        sy, sx = ys + dy, xs + dx
        ok = (sy >= 0) & (sy < h) & (sx >= 0) & (sx < w)
        expected[ok] = code[0, 0][sy[ok], sx[ok]]
        assert torch.equal(img, expected)


def test_cutout_zeroes_one_half_side_square_per_image():
    torch.manual_seed(5)
    b, size = 64, 16
    side = size // 2
    x = torch.rand(b, 3, size, size) + 1.0  # strictly positive: zeros come only from cutout
    y = cutout(x)
    full_squares = 0
    for xi, yi in zip(x, y, strict=True):
        zero = yi == 0
        assert torch.equal(zero[0], zero[1]) and torch.equal(zero[0], zero[2])
        keep = ~zero
        assert torch.equal(yi[keep], xi[keep]), "pixels outside the square are unchanged"
        rows = zero[0].any(1).nonzero().flatten()
        cols = zero[0].any(0).nonzero().flatten()
        assert rows.numel() > 0
        # A solid rectangle (clipped at the border) of side ≤ size/2 and ≥ size/4.
        assert rows.tolist() == list(range(int(rows[0]), int(rows[-1]) + 1))
        assert cols.tolist() == list(range(int(cols[0]), int(cols[-1]) + 1))
        assert zero[0].sum() == rows.numel() * cols.numel()
        assert side // 2 <= rows.numel() <= side and side // 2 <= cols.numel() <= side
        full_squares += rows.numel() == side and cols.numel() == side
    assert full_squares > 0


# ----------------------------------------------------------------------------- policies


def test_parse_policy_accepts_known_names_with_spaces():
    assert parse_policy("color, translation ,cutout") == ALL
    assert parse_policy("") == []
    assert set(POLICIES) == set(ALL)


@pytest.mark.parametrize("bad", ["colour", "color,flip", "cutout,,zoom"])
def test_parse_policy_rejects_unknown_names_listing_valid_ones(bad):
    with pytest.raises(GankitError, match="model.diffaugment: unknown policy") as e:
        parse_policy(bad)
    msg = str(e.value)
    assert all(name in msg for name in ALL)


def _image_model(**model_cfg):
    cfg = Config.from_dict(
        {
            "model": {"net": "dcgan", "width": 4, "z_dim": 4, **model_cfg},
            "train": {"batch_size": 8},
        }
    )
    return MODELS.get("gan")(cfg, DataInfo("image", (1, 8, 8)))


def test_vector_data_with_diffaugment_is_refused():
    cfg = Config.from_dict({"model": {"width": 4, "depth": 1, "diffaugment": "color"}})
    with pytest.raises(GankitError, match="diffaugment needs image data"):
        MODELS.get("gan")(cfg, DataInfo("vector", (2,)))


def test_model_with_unknown_policy_is_refused():
    with pytest.raises(GankitError, match="unknown policy 'blur'"):
        _image_model(diffaugment="color,blur")


def test_discriminate_applies_the_policy():
    torch.manual_seed(0)
    model = _image_model(diffaugment="color,translation,cutout", d_batchnorm=False, pack=2)
    assert model.policy == ALL
    x = torch.rand(8, 1, 8, 8) * 2 - 1
    D = model.nets["D"]
    torch.manual_seed(7)
    out = model.discriminate(x)
    torch.manual_seed(7)
    expected = D(pack(diff_augment(x, ALL), 2))
    assert torch.equal(out, expected)
    assert out.shape == (4,)
    assert not torch.allclose(out, D(pack(x, 2))), "D must see augmented images"


def test_generator_and_discriminator_steps_use_the_same_policy(monkeypatch):
    torch.manual_seed(0)
    model = _image_model(diffaugment="translation,cutout")
    calls = []

    def spy(x, policy):
        calls.append((tuple(x.shape), list(policy)))
        return diff_augment(x, policy)

    monkeypatch.setattr(gan_module, "diff_augment", spy)
    real = torch.rand(8, 1, 8, 8) * 2 - 1
    d_loss, _ = model.d_step(Batch(real), StepContext(0))
    d_calls = len(calls)
    g_loss, _ = model.g_step(None, StepContext(0))
    assert d_calls >= 1 and len(calls) > d_calls, "both the D and the G step augment"
    assert all(policy == ["translation", "cutout"] for _, policy in calls)
    assert all(shape[1:] == (1, 8, 8) for shape, _ in calls)
    assert torch.isfinite(d_loss) and torch.isfinite(g_loss)
    # The G loss back-propagates through the augmentation into G.
    g_loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.nets["G"].parameters())


def test_no_policy_means_no_augmentation(monkeypatch):
    model = _image_model()
    assert model.policy == []
    monkeypatch.setattr(gan_module, "diff_augment", lambda *a: pytest.fail("augmented"))
    x = torch.rand(4, 1, 8, 8)
    model.eval()
    assert torch.equal(model.discriminate(x), model.nets["D"](x))
