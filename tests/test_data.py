"""Datasets (gankit.data): toy mixtures, digits, image folders, array files, the batch sampler."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import DataConfig
from gankit.data import DATASETS, BatchSampler, Dataset, load_dataset
from gankit.data.images import load_array_file, load_image_folder, resize_tensor
from gankit.data.toy import grid_centres, ring_centres
from gankit.registry import GankitError

# ============================================================================ toy mixtures


def test_registry_holds_the_builtin_datasets():
    assert DATASETS.names() == ["digits", "grid25", "mnist", "ring8", "stacked-mnist"]
    for name in DATASETS:
        assert DATASETS.describe(name)


def test_ring8_centres_std_and_shape():
    ds = load_dataset(DataConfig(name="ring8", toy_size=4000), seed=0)
    assert ds.name == "ring8" and ds.kind == "vector"
    assert ds.x.shape == (4000, 2) and ds.x.dtype == torch.float32
    assert ds.sample_shape == (2,) and len(ds) == 4000
    expected = [
        (2 * math.cos(2 * math.pi * k / 8), 2 * math.sin(2 * math.pi * k / 8)) for k in range(8)
    ]
    np.testing.assert_allclose(ds.modes, expected, atol=1e-12)
    np.testing.assert_allclose(ds.modes[0], [2.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(ds.modes[2], [0.0, 2.0], atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(ds.modes, axis=1), 2.0)
    assert ds.mode_std == 0.02


def test_grid25_centres_std_and_shape():
    ds = load_dataset(DataConfig(name="grid25", toy_size=5000), seed=1)
    assert ds.x.shape == (5000, 2) and ds.mode_std == 0.05
    assert ds.modes.shape == (25, 2)
    assert {tuple(c) for c in ds.modes} == {
        (float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)
    }
    np.testing.assert_array_equal(grid_centres(), ds.modes)


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_toy_points_lie_near_their_modes(name):
    ds = load_dataset(DataConfig(name=name, toy_size=5000), seed=3)
    x = ds.x.double().numpy()
    centres = ds.modes[ds.y.numpy()]
    offsets = x - centres
    dist = np.linalg.norm(offsets, axis=1)
    # Isotropic Gaussian with std s: per-coordinate std ~ s, no point beyond ~6 s.
    assert dist.max() < 6 * ds.mode_std
    assert offsets.std(axis=0) == pytest.approx([ds.mode_std] * 2, rel=0.1)
    assert abs(offsets.mean()) < ds.mode_std / 10
    # The label is the nearest centre, and every mode is used about equally.
    d2 = ((x[:, None, :] - ds.modes[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(d2.argmin(1), ds.y.numpy())
    counts = np.bincount(ds.y.numpy(), minlength=len(ds.modes))
    assert counts.min() > 0.5 * len(x) / len(ds.modes)


def test_toy_data_is_a_function_of_the_seed():
    cfg = DataConfig(name="ring8", toy_size=100)
    a, b, c = load_dataset(cfg, 5), load_dataset(cfg, 5), load_dataset(cfg, 6)
    assert torch.equal(a.x, b.x)
    assert not torch.equal(a.x, c.x)


def test_ring_centres_helper():
    np.testing.assert_allclose(ring_centres(4, 1.0), [[1, 0], [0, 1], [-1, 0], [0, -1]], atol=1e-12)


def test_toy_info_is_json_friendly():
    ds = load_dataset(DataConfig(name="ring8", toy_size=10))
    info = json.loads(json.dumps(ds.info()))
    assert info["name"] == "ring8" and info["kind"] == "vector" and info["shape"] == [2]
    assert len(info["modes"]) == 8 and info["mode_std"] == 0.02


# ============================================================================ digits / mnist


def test_digits_shape_dtype_range_and_labels():
    ds = load_dataset(DataConfig(name="digits"))
    assert ds.name == "digits" and ds.kind == "image"
    assert ds.x.shape == (1797, 1, 8, 8) and ds.x.dtype == torch.uint8
    assert ds.x.min().item() == 0 and ds.x.max().item() == 255
    assert ds.y.shape == (1797,) and set(ds.y.tolist()) == set(range(10))
    assert ds.skipped == 0 and ds.modes is None
    assert ds.info() == {
        "name": "digits",
        "kind": "image",
        "shape": [1, 8, 8],
        "classes": [str(i) for i in range(10)],
    }


def test_digits_resolution_and_channels_conversion():
    native = load_dataset(DataConfig(name="digits"))
    ds = load_dataset(DataConfig(name="digits", resolution=16, channels=3))
    assert ds.x.shape == (1797, 3, 16, 16) and ds.x.dtype == torch.uint8
    assert torch.equal(ds.x[:, 0], ds.x[:, 1]) and torch.equal(ds.x[:, 0], ds.x[:, 2])
    # Upsampling keeps the picture: mean brightness is nearly unchanged.
    assert ds.x[:, 0].float().mean().item() == pytest.approx(
        native.x.float().mean().item(), rel=0.05
    )
    small = load_dataset(DataConfig(name="digits", resolution=4, channels=1))
    assert small.x.shape == (1797, 1, 4, 4)


def test_digits_invalid_channels_names_the_key():
    with pytest.raises(GankitError, match="data.channels must be 1 or 3 for images, got 2"):
        load_dataset(DataConfig(name="digits", channels=2))


@pytest.fixture(scope="module")
def mnist() -> Dataset:
    return load_dataset(DataConfig(name="mnist"))


def test_mnist_shape_dtype_range_and_labels(mnist):
    assert mnist.name == "mnist" and mnist.kind == "image"
    assert mnist.x.shape == (5000, 1, 28, 28) and mnist.x.dtype == torch.uint8
    assert mnist.x.min().item() == 0 and mnist.x.max().item() == 255
    # MNIST digits are white strokes on a black border.
    assert mnist.x[:, :, 0, :].float().mean().item() < 1.0
    assert mnist.y.dtype == torch.int64 and mnist.y.shape == (5000,)
    assert set(mnist.y.tolist()) == set(range(10))


# ============================================================================ Dataset / resize


def test_batch_returns_float32_in_minus_one_one():
    x = torch.tensor([0, 255, 128, 1], dtype=torch.uint8).view(4, 1, 1, 1).expand(4, 1, 2, 2)
    ds = Dataset("t", x.contiguous(), "image")
    out = ds.batch(torch.tensor([0, 1, 2]))
    assert out.dtype == torch.float32 and out.shape == (3, 1, 2, 2)
    assert out[0].unique().tolist() == [-1.0]
    assert out[1].unique().tolist() == [1.0]
    assert out[2, 0, 0, 0].item() == pytest.approx(128 / 127.5 - 1, abs=1e-6)
    assert ds.x.dtype == torch.uint8  # the stored data is not modified


def test_batch_on_real_digits_spans_the_tanh_range():
    ds = load_dataset(DataConfig(name="digits"))
    b = ds.batch(torch.arange(len(ds)))
    assert b.dtype == torch.float32
    assert b.min().item() == -1.0 and b.max().item() == 1.0


def test_batch_of_vectors_is_float32_unchanged():
    ds = load_dataset(DataConfig(name="ring8", toy_size=20))
    idx = torch.tensor([3, 0, 3])
    b = ds.batch(idx)
    assert b.dtype == torch.float32 and torch.equal(b, ds.x[idx])


def test_resize_tensor_rgb_to_gray_uses_luminance_weights():
    x = torch.zeros(3, 3, 2, 2, dtype=torch.uint8)
    x[0, 0], x[1, 1], x[2, 2] = 255, 255, 255  # pure red, green, blue
    g = resize_tensor(x, None, 1)
    assert g.shape == (3, 1, 2, 2) and g.dtype == torch.uint8
    assert g[:, 0, 0, 0].tolist() == [round(0.299 * 255), round(0.587 * 255), round(0.114 * 255)]


def test_resize_tensor_centre_crops_non_square():
    # Three vertical stripes (left dark, middle bright, right dark): the crop keeps the middle.
    x = torch.zeros(1, 1, 8, 24, dtype=torch.uint8)
    x[..., 8:16] = 200
    y = resize_tensor(x, 8, None)
    assert y.shape == (1, 1, 8, 8)
    assert (y == 200).all()


def test_resize_tensor_noop_returns_same_values():
    x = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    assert torch.equal(resize_tensor(x, 8, 3), x)
    assert torch.equal(resize_tensor(x, None, None), x)


# ============================================================================ image folders


def test_image_folder_recursive_and_ignores_other_files(tmp_path, make_image):
    root = tmp_path / "faces"
    make_image(root / "a.png", (255, 0, 0))
    make_image(root / "sub" / "b.PNG", (0, 255, 0))
    make_image(root / "sub" / "deeper" / "c.jpg", (0, 0, 255), quality=100)
    (root / "README.txt").write_text("not an image")
    (root / "sub" / "labels.csv").write_text("a,1\n")
    ds = load_dataset(DataConfig(name=str(root), resolution=8))
    assert ds.kind == "image" and ds.name == str(root)
    assert ds.x.shape == (3, 3, 8, 8) and ds.x.dtype == torch.uint8
    assert ds.skipped == 0  # non-image suffixes are not counted as skipped
    colours = [tuple(ds.x[i, :, 4, 4].tolist()) for i in range(3)]
    assert colours[0] == (255, 0, 0) and colours[1] == (0, 255, 0)
    assert np.allclose(colours[2], (0, 0, 255), atol=3)  # JPEG


def test_image_folder_default_resolution_is_64(image_folder):
    ds = load_image_folder(image_folder(n=2, size=(20, 20)), DataConfig())
    assert ds.x.shape == (2, 3, 64, 64)


def test_image_folder_mixed_modes(tmp_path, make_image):
    root = tmp_path / "mixed"
    make_image(root / "0_rgb.png", (10, 200, 30), "RGB")
    make_image(root / "1_rgba_clear.png", (0, 0, 0, 0), "RGBA")  # transparent -> white
    make_image(root / "2_rgba_opaque.png", (40, 50, 60, 255), "RGBA")
    make_image(root / "3_rgba_half.png", (0, 0, 0, 128), "RGBA")  # half black over white
    pal = Image.new("P", (12, 12), 2)
    pal.putpalette([0, 0, 0, 9, 9, 9, 250, 100, 5] + [0] * 759)
    pal.save(root / "4_palette.png")
    make_image(root / "5_gray.png", 77, "L")
    make_image(root / "6_i16.png", np.full((12, 12), 65535, np.uint16))
    make_image(root / "7_i16_mid.png", np.full((12, 12), 32768, np.uint16))
    assert Image.open(root / "6_i16.png").mode == "I;16"

    ds = load_image_folder(root, DataConfig(resolution=8))
    assert ds.skipped == 0
    assert ds.x.shape == (8, 3, 8, 8)  # channels from the first (RGB) file
    px = [tuple(ds.x[i, :, 3, 3].tolist()) for i in range(8)]
    assert px[0] == (10, 200, 30)
    assert px[1] == (255, 255, 255)
    assert px[2] == (40, 50, 60)
    assert all(abs(v - 127) <= 1 for v in px[3])
    assert px[4] == (250, 100, 5)
    assert px[5] == (77, 77, 77)
    assert px[6] == (255, 255, 255)  # 16-bit full scale -> 255, not clipped garbage
    assert all(abs(v - 128) <= 1 for v in px[7])
    for i in range(8):  # solid images stay solid after resize
        assert (ds.x[i] == ds.x[i, :, :1, :1]).all(), i


def test_image_folder_channels_guessed_gray_from_first_file(tmp_path, make_image):
    root = tmp_path / "g"
    make_image(root / "a.png", 90, "L")
    make_image(root / "b.png", (255, 0, 0), "RGB")
    ds = load_image_folder(root, DataConfig(resolution=4))
    assert ds.x.shape == (2, 1, 4, 4)
    assert ds.x[0].unique().tolist() == [90]
    assert ds.x[1].unique().tolist() == [76]  # Pillow's L = 0.299 R + ...


def test_image_folder_channels_forced(tmp_path, make_image):
    root = tmp_path / "c"
    make_image(root / "a.png", 90, "L")
    ds = load_image_folder(root, DataConfig(resolution=4, channels=3))
    assert ds.x.shape == (1, 3, 4, 4) and ds.x.unique().tolist() == [90]


def test_image_folder_rejects_two_channels(tmp_path, make_image):
    root = tmp_path / "c2"
    make_image(root / "a.png", (1, 2, 3))
    with pytest.raises(GankitError, match="data.channels"):
        load_image_folder(root, DataConfig(resolution=4, channels=2))


@pytest.mark.parametrize(("w", "h"), [(30, 10), (10, 30)])
def test_image_folder_centre_crops_non_square(tmp_path, w, h):
    # Three stripes of equal size along the long side: red | green | blue.
    a = np.zeros((10, 30, 3), np.uint8)
    a[:, :10], a[:, 10:20], a[:, 20:] = (255, 0, 0), (0, 255, 0), (0, 0, 255)
    if h > w:
        a = np.ascontiguousarray(a.transpose(1, 0, 2))
    root = tmp_path / "ns"
    root.mkdir()
    Image.fromarray(a).save(root / "x.png")
    ds = load_image_folder(root, DataConfig(resolution=8))
    assert ds.x.shape == (1, 3, 8, 8)
    img = ds.x[0].permute(1, 2, 0).int()
    # Only the middle stripe survives the centre crop.
    assert (img[..., 1] >= 240).all()
    assert (img[..., 0] <= 15).all() and (img[..., 2] <= 15).all()


def test_image_folder_skips_unreadable_files_and_counts_them(tmp_path, make_image, caplog):
    root = tmp_path / "dirty"
    make_image(root / "good1.png", (1, 2, 3))
    rng = np.random.default_rng(0)
    make_image(root / "sub" / "good2.png", rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    (root / "empty.png").write_bytes(b"")
    blob = (root / "sub" / "good2.png").read_bytes()
    (root / "truncated.png").write_bytes(blob[: len(blob) // 2])  # header fine, data cut
    (root / "header_only.png").write_bytes(blob[:20])
    (root / "notes.jpg").write_text("this is text, not a JPEG\n")
    with caplog.at_level("WARNING", logger="gankit"):
        ds = load_dataset(DataConfig(name=str(root), resolution=8))
    assert len(ds) == 2 and ds.skipped == 4
    assert tuple(ds.x[0, :, 0, 0].tolist()) == (1, 2, 3)
    text = caplog.text
    for name in ("empty.png", "truncated.png", "header_only.png", "notes.jpg"):
        assert name in text
    assert "skipped 4 of 6 image files" in text


def test_image_folder_skips_decompression_bombs(tmp_path, make_image, monkeypatch):
    """Images over Pillow's pixel limit are skipped and counted, never decoded. The limit is
    lowered so the test needs no giant file; a real bomb trips the same check."""
    root = tmp_path / "bombs"
    make_image(root / "small.png", (1, 2, 3), size=(8, 8))
    make_image(root / "huge.png", (4, 5, 6), size=(40, 40))  # 1,600 px: over 2 × 500
    make_image(root / "big.png", (7, 8, 9), size=(24, 24))  # 576 px: over the 500 px warning
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)
    ds = load_image_folder(root, DataConfig(resolution=8))
    assert len(ds) == 1 and ds.skipped == 2
    assert tuple(ds.x[0, :, 0, 0].tolist()) == (1, 2, 3)


def test_image_folder_where_nothing_is_readable(tmp_path):
    root = tmp_path / "bad"
    root.mkdir()
    (root / "a.png").write_bytes(b"")
    (root / "b.jpg").write_text("x")
    with pytest.raises(GankitError, match=r"none of the 2 image files in .*bad could be read"):
        load_image_folder(root, DataConfig())


def test_empty_folder_is_a_clear_error(tmp_path):
    root = tmp_path / "empty"
    (root / "sub").mkdir(parents=True)
    (root / "notes.txt").write_text("x")
    with pytest.raises(GankitError) as e:
        load_dataset(DataConfig(name=str(root)))
    assert f"no images found in {root}" in str(e.value)
    assert ".png" in str(e.value) and ".jpg" in str(e.value)


def test_missing_folder_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope" / "images"
    with pytest.raises(GankitError, match=f"dataset folder not found: {missing}"):
        load_dataset(DataConfig(name=str(missing)))


def test_a_single_non_array_file_is_a_clear_error(tmp_path, make_image):
    p = make_image(tmp_path / "one.png")
    with pytest.raises(GankitError, match="neither a folder of images nor a .npy/.npz file"):
        load_dataset(DataConfig(name=str(p)))


def test_unknown_dataset_name_lists_valid_names():
    with pytest.raises(GankitError) as e:
        load_dataset(DataConfig(name="ring9"))
    msg = str(e.value)
    assert "unknown dataset 'ring9'" in msg
    assert "did you mean 'ring8'?" in msg
    assert "valid: digits, grid25, mnist, ring8" in msg
    assert "image folder" in msg and ".npy/.npz" in msg


# ============================================================================ array files


def test_npy_vectors(npy_file):
    a = np.random.default_rng(0).normal(size=(50, 3))
    ds = load_dataset(DataConfig(name=str(npy_file(a))))
    assert ds.kind == "vector" and ds.x.dtype == torch.float32 and ds.x.shape == (50, 3)
    np.testing.assert_allclose(ds.x.numpy(), a, rtol=1e-6)
    assert ds.y is None


def test_npy_nhw_uint8_images(npy_file):
    a = np.random.default_rng(1).integers(0, 256, (6, 8, 8), dtype=np.uint8)
    ds = load_array_file(npy_file(a), DataConfig())
    assert ds.kind == "image" and ds.x.shape == (6, 1, 8, 8) and ds.x.dtype == torch.uint8
    np.testing.assert_array_equal(ds.x[:, 0].numpy(), a)


def test_npy_nhwc_images_are_transposed(npy_file):
    a = np.random.default_rng(2).integers(0, 256, (4, 6, 6, 3), dtype=np.uint8)
    ds = load_array_file(npy_file(a), DataConfig())
    assert ds.x.shape == (4, 3, 6, 6)
    np.testing.assert_array_equal(ds.x.numpy(), a.transpose(0, 3, 1, 2))


@pytest.mark.parametrize("c", [1, 3])
def test_npy_nchw_images_stay(npy_file, c):
    a = np.random.default_rng(3).integers(0, 256, (4, c, 6, 6), dtype=np.uint8)
    ds = load_array_file(npy_file(a), DataConfig())
    np.testing.assert_array_equal(ds.x.numpy(), a)


def test_npy_nhwc_single_channel(npy_file):
    a = np.random.default_rng(4).integers(0, 256, (3, 6, 6, 1), dtype=np.uint8)
    ds = load_array_file(npy_file(a), DataConfig())
    np.testing.assert_array_equal(ds.x.numpy(), a.transpose(0, 3, 1, 2))


def test_float_images_in_zero_one(npy_file):
    a = np.array([0.0, 1.0, 0.5, 0.2], dtype=np.float32).reshape(4, 1, 1) * np.ones((1, 4, 4))
    ds = load_array_file(npy_file(a), DataConfig())
    assert ds.x.dtype == torch.uint8
    assert ds.x[:, 0, 0, 0].tolist() == [0, 255, 128, 51]


def test_float_images_in_minus_one_one(npy_file):
    a = np.array([-1.0, 1.0, 0.0, -0.5]).reshape(4, 1, 1) * np.ones((1, 4, 4))
    ds = load_array_file(npy_file(a), DataConfig())
    assert ds.x[:, 0, 0, 0].tolist() == [0, 255, 128, 64]
    # and Dataset.batch maps them back to [-1, 1]
    b = ds.batch(torch.arange(4))[:, 0, 0, 0]
    np.testing.assert_allclose(b.numpy(), [-1.0, 1.0, 1 / 255, -0.498], atol=4e-3)


def test_array_images_are_resized_and_converted(npy_file):
    a = np.full((2, 16, 16), 100, np.uint8)
    ds = load_array_file(npy_file(a), DataConfig(resolution=8, channels=3))
    assert ds.x.shape == (2, 3, 8, 8) and ds.x.unique().tolist() == [100]


def test_npz_with_x_and_y(npy_file):
    x = np.random.default_rng(5).integers(0, 256, (5, 8, 8), dtype=np.uint8)
    y = np.array([3, 1, 4, 1, 5], dtype=np.int32)
    ds = load_dataset(DataConfig(name=str(npy_file(name="d.npz", x=x, y=y, extra=np.zeros(2)))))
    assert ds.x.shape == (5, 1, 8, 8)
    assert ds.y.dtype == torch.int64 and ds.y.tolist() == [3, 1, 4, 1, 5]


def test_npz_single_unnamed_array(tmp_path):
    p = tmp_path / "one.npz"
    np.savez(p, np.ones((4, 2)))
    ds = load_array_file(p, DataConfig())
    assert ds.kind == "vector" and ds.x.shape == (4, 2) and ds.y is None


def test_npz_without_x_among_several_arrays(npy_file):
    p = npy_file(name="two.npz", a=np.ones((3, 2)), b=np.ones((3, 2)))
    with pytest.raises(GankitError, match=r"holds arrays \['a', 'b'\]; name the data array 'x'"):
        load_array_file(p, DataConfig())


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.arange(10.0), r"expected a numeric array .* got shape \(10,\)"),
        (np.zeros((2, 2, 2, 2, 2)), r"got shape \(2, 2, 2, 2, 2\)"),
        (np.zeros((0, 3)), r"got shape \(0, 3\)"),
        (np.zeros((3, 4), dtype=bool), "dtype bool"),
        (np.zeros((3, 4), dtype=complex), "dtype complex128"),
        (np.zeros((4, 8, 8, 5), np.uint8), "images need 1 or 3 channels"),
        (np.zeros((4, 5, 8, 8), np.uint8), "images need 1 or 3 channels"),
        (np.zeros((4, 2, 8, 8), np.uint8), "images need 1 or 3 channels"),
        (np.full((2, 4, 4), np.nan), "NaN or infinite"),
        (np.full((2, 4, 4), np.inf), "NaN or infinite"),
        (np.full((2, 4, 4), 300.0), r"float images must lie in \[0, 1\] or \[-1, 1\]"),
        (np.full((2, 4, 4), -2.0), r"float images must lie in \[0, 1\] or \[-1, 1\]"),
    ],
)
def test_bad_arrays_give_gankit_error(npy_file, array, match):
    p = npy_file(array)
    with pytest.raises(GankitError, match=match) as e:
        load_dataset(DataConfig(name=str(p)))
    assert str(p) in str(e.value)


def test_object_array_is_refused_without_unpickling(npy_file):
    p = npy_file(np.array([{"a": 1}, None], dtype=object))  # np.save pickles object arrays
    with pytest.raises(GankitError, match="cannot read array file"):
        load_array_file(p, DataConfig())


def test_corrupt_and_missing_array_files(tmp_path):
    bad = tmp_path / "bad.npy"
    bad.write_bytes(os.urandom(64))
    with pytest.raises(GankitError, match="cannot read array file"):
        load_dataset(DataConfig(name=str(bad)))
    with pytest.raises(GankitError, match="array file not found"):
        load_dataset(DataConfig(name=str(tmp_path / "missing.npz")))


def test_nan_vectors_give_gankit_error(npy_file):
    a = np.zeros((10, 2))
    a[3, 1] = np.nan
    with pytest.raises(GankitError, match="NaN"):
        load_array_file(npy_file(a), DataConfig())


# ============================================================================ BatchSampler


def _stream(s: BatchSampler, batches: int) -> list[int]:
    return torch.cat([s.next() for _ in range(batches)]).tolist()


@pytest.mark.parametrize(("n", "bs"), [(10, 3), (10, 5), (7, 7), (3, 8), (1, 4)])
def test_every_epoch_is_a_permutation(n, bs):
    s = BatchSampler(n, bs, seed=1)
    epochs = 6
    batches = math.ceil(epochs * n / bs)
    out = _stream(s, batches)
    assert all(len(b) == bs for b in [out[i : i + bs] for i in range(0, len(out), bs)])
    for e in range(epochs):
        assert sorted(out[e * n : (e + 1) * n]) == list(range(n)), f"epoch {e}"


def test_epochs_are_reshuffled():
    s = BatchSampler(50, 50, seed=0)
    a, b = s.next().tolist(), s.next().tolist()
    assert sorted(a) == sorted(b) == list(range(50))
    assert a != b


def test_batches_cross_epoch_boundaries():
    s = BatchSampler(10, 4, seed=2)
    b1, b2 = s.next(), s.next()
    assert s.state_dict() == {"epoch": 0, "pos": 8, "world": 1}
    b3 = s.next()  # last 2 of epoch 0 + first 2 of epoch 1
    assert len(b3) == 4
    assert s.state_dict() == {"epoch": 1, "pos": 2, "world": 1}
    assert sorted(torch.cat([b1, b2, b3[:2]]).tolist()) == list(range(10))
    epoch1 = BatchSampler(10, 10, seed=2)
    epoch1.next()
    assert b3[2:].tolist() == epoch1.next()[:2].tolist()


def test_batch_size_larger_than_dataset():
    s = BatchSampler(3, 8, seed=0)
    b = s.next()
    assert len(b) == 8
    assert sorted(b[:3].tolist()) == [0, 1, 2] and sorted(b[3:6].tolist()) == [0, 1, 2]
    assert s.state_dict() == {"epoch": 2, "pos": 2, "world": 1}


def test_same_seed_same_stream_different_seed_different():
    a, b, c = (BatchSampler(20, 6, seed) for seed in (4, 4, 5))
    assert _stream(a, 10) == _stream(b, 10)
    assert _stream(BatchSampler(20, 6, 4), 10) != _stream(c, 10)


@pytest.mark.parametrize("taken", [0, 1, 3, 5, 7])
def test_state_dict_resumes_the_identical_stream(taken):
    ref = BatchSampler(10, 4, seed=9)
    full = [ref.next().tolist() for _ in range(taken + 8)]

    s = BatchSampler(10, 4, seed=9)
    for _ in range(taken):
        s.next()
    state = s.state_dict()
    assert set(state) == {"epoch", "pos", "world"} and all(
        isinstance(v, int) for v in state.values()
    )
    state = json.loads(json.dumps(state))  # as stored in a checkpoint

    resumed = BatchSampler(10, 4, seed=9)
    resumed.load_state_dict(state)
    assert [resumed.next().tolist() for _ in range(8)] == full[taken:]


def test_world_two_ranks_get_disjoint_shards():
    for n in (10, 11):  # DistributedSampler pads an odd epoch with one repeated index
        r0, r1 = (
            BatchSampler(n, 1, seed=3, rank=0, world=2),
            BatchSampler(n, 1, seed=3, rank=1, world=2),
        )
        for _epoch in range(3):
            a = [r0.next().item() for _ in range(math.ceil(n / 2))]
            b = [r1.next().item() for _ in range(math.ceil(n / 2))]
            assert len(set(a) & set(b)) == n % 2
            assert sorted(set(a + b)) == list(range(n))
            assert r0.state_dict()["pos"] == 0 and r1.state_dict()["pos"] == 0


def test_two_ranks_together_draw_the_global_batches_of_one():
    one = BatchSampler(100, 8, seed=5)
    ranks = [BatchSampler(100, 4, seed=5, rank=r, world=2) for r in (0, 1)]
    for _ in range(30):  # across several epochs
        together = torch.cat([r.next() for r in ranks])
        assert sorted(together.tolist()) == sorted(one.next().tolist())


def test_resume_with_another_world_size_continues_the_global_stream():
    one = BatchSampler(100, 8, seed=5)
    ranks = [BatchSampler(100, 4, seed=5, rank=r, world=2) for r in (0, 1)]
    for _ in range(17):
        for r in ranks:
            r.next()
        one.next()
    resumed = BatchSampler(100, 8, seed=5)  # one process takes over from two
    resumed.load_state_dict(ranks[0].state_dict())
    assert resumed.state_dict() == one.state_dict()
    assert resumed.next().tolist() == one.next().tolist()


def test_world_shards_are_strided_slices_of_one_permutation():
    full = BatchSampler(12, 12, seed=6).next()
    r0 = BatchSampler(12, 6, seed=6, rank=0, world=2).next()
    r1 = BatchSampler(12, 6, seed=6, rank=1, world=2).next()
    assert r0.tolist() == full[0::2].tolist() and r1.tolist() == full[1::2].tolist()


def test_empty_dataset_is_refused():
    with pytest.raises(ValueError, match="empty dataset"):
        BatchSampler(0, 4, seed=0)


def test_largest_seed_allowed_by_config_works():
    from gankit.config import Config

    seed = Config.from_dict({"train": {"seed": 2**31 - 1}}).train.seed
    s = BatchSampler(10, 4, seed=seed)
    assert sorted(_stream(s, 5)[:10]) == list(range(10))


def test_rank_with_empty_shard_is_refused():
    with pytest.raises(ValueError):
        BatchSampler(1, 2, seed=0, rank=1, world=2)
