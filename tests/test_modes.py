"""Mode-coverage metrics (gankit.metrics.modes) on hand-built samples."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gankit.data.toy import grid_centres, ring_centres
from gankit.metrics.modes import ModeReport, mode_report

RING = ring_centres()  # 8 modes, radius 2
STD = 0.02


def at_modes(centres: np.ndarray, per_mode: int) -> np.ndarray:
    return np.repeat(centres, per_mode, axis=0)


def test_samples_exactly_at_every_centre():
    r = mode_report(at_modes(RING, 10), RING, STD)
    assert r == ModeReport(
        modes_covered=8, num_modes=8, high_quality=1.0, reverse_kl=0.0, num_samples=80
    )


def test_grid25_all_modes():
    g = grid_centres()
    r = mode_report(at_modes(g, 4), g, 0.05)
    assert (r.modes_covered, r.num_modes, r.high_quality) == (25, 25, 1.0)
    assert r.reverse_kl == pytest.approx(0.0, abs=1e-12)


def test_samples_on_one_of_eight_modes():
    samples = np.repeat(RING[3:4], 100, axis=0)
    r = mode_report(samples, RING, STD)
    assert r.modes_covered == 1 and r.high_quality == 1.0 and r.num_samples == 100
    assert r.reverse_kl == pytest.approx(math.log(8), rel=1e-12)


def test_two_of_eight_modes_uneven():
    samples = np.concatenate([np.repeat(RING[:1], 30, 0), np.repeat(RING[5:6], 10, 0)])
    r = mode_report(samples, RING, STD)
    p = np.array([0.75, 0.25])
    assert r.modes_covered == 2
    assert r.reverse_kl == pytest.approx(float((p * np.log(p * 8)).sum()), rel=1e-12)


def test_samples_far_away():
    samples = np.full((50, 2), 10.0)
    r = mode_report(samples, RING, STD)
    assert r.high_quality == 0.0 and r.modes_covered == 0 and r.num_samples == 50
    assert r.reverse_kl == math.inf  # no high-quality sample: no histogram to compare


def test_origin_is_far_from_every_ring_mode():
    r = mode_report(np.zeros((20, 2)), RING, STD)
    assert r.high_quality == 0.0 and r.modes_covered == 0


@pytest.mark.parametrize(
    ("k", "inside"),
    [
        (0.0, True),
        (1.0, True),
        (2.9, True),
        (2.999, True),
        (3.001, False),
        (3.1, False),
        (5.0, False),
    ],
)
@pytest.mark.parametrize("direction", [(1.0, 0.0), (0.0, -1.0), (0.6, 0.8)])
def test_three_std_boundary(k, inside, direction):
    d = np.array(direction)
    samples = RING[2] + k * STD * d  # k std away from mode 2, along a unit direction
    r = mode_report(samples[None], RING, STD)
    assert r.high_quality == (1.0 if inside else 0.0)
    assert r.modes_covered == (1 if inside else 0)


def test_mixed_quality_share():
    inside = RING + 2.9 * STD * np.array([1.0, 0.0])  # 8 samples, one per mode
    outside = RING + 3.1 * STD * np.array([0.0, 1.0])  # 8 near-misses
    far = np.full((4, 2), 100.0)
    r = mode_report(np.concatenate([inside, outside, far]), RING, STD)
    assert r.high_quality == pytest.approx(8 / 20)
    assert r.modes_covered == 8 and r.reverse_kl == pytest.approx(0.0, abs=1e-12)


def test_min_count_default_is_one_sample_as_in_veegan_and_pacgan():
    big = np.repeat(RING[:1], 2500 - 3 - 1, axis=0)
    samples = np.concatenate([big, np.repeat(RING[1:2], 3, 0), RING[2:3]])
    r = mode_report(samples, RING, STD)
    assert r.num_samples == 2500
    assert r.modes_covered == 3  # one high-quality sample covers a mode
    assert mode_report(samples, RING, STD, min_count=2).modes_covered == 2
    assert mode_report(samples, RING, STD, min_count=4).modes_covered == 1


def test_exactly_three_std_is_not_high_quality():
    # PacGAN's code counts a sample as high quality when strictly closer than 3 std.
    r = mode_report((RING[0] + np.array([3 * STD, 0.0]))[None], RING, STD)
    assert r.high_quality == 0.0


def test_samples_are_assigned_to_the_nearest_mode():
    # A point between modes 0 and 1 but much nearer mode 1 counts for mode 1 only.
    p = RING[1] + 0.5 * STD * (RING[0] - RING[1]) / np.linalg.norm(RING[0] - RING[1])
    r = mode_report(np.repeat(p[None], 10, 0), RING, STD)
    assert r.modes_covered == 1 and r.reverse_kl == pytest.approx(math.log(8))


def test_accepts_lists_and_float32():
    r = mode_report(RING.astype(np.float32).tolist(), RING.tolist(), STD)
    assert r.modes_covered == 8 and r.high_quality == 1.0


def test_empty_samples():
    r = mode_report(np.zeros((0, 2)), RING, STD)
    assert r.num_samples == 0 and r.high_quality == 0.0 and r.modes_covered == 0


def test_as_dict_is_json_serialisable_and_complete():
    d = mode_report(at_modes(RING, 2), RING, STD).as_dict()
    assert d == {
        "modes_covered": 8,
        "num_modes": 8,
        "high_quality": 1.0,
        "reverse_kl": 0.0,
        "num_samples": 16,
    }
    assert json.loads(json.dumps(d)) == d
