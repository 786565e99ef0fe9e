"""engine.activations: every conv layer's maps from the analysis' weights, the heat-map, contrast scaling."""

from __future__ import annotations

import numpy as np
import pytest

from engine import activations, descriptor
from engine.activations import LAYER_NAMES, LAYERS, blend, colorize, heatmap, scale_maps
from engine.decode import DecodeError


@pytest.fixture(scope="module")
def fm(weights_path):
    from engine.weights import resolve_weights

    return activations.shared(resolve_weights(str(weights_path)))


def test_the_thirteen_layers_are_vgg16s():
    assert len(LAYERS) == 13 and LAYER_NAMES[0] == "block1_conv1" and LAYER_NAMES[-1] == "block5_conv3"
    assert [(layer.size, layer.channels) for layer in LAYERS[::3]] == [
        (224, 64),
        (112, 128),
        (56, 256),
        (28, 512),
        (14, 512),
    ]
    assert activations.layer("block4_conv2").channels == 512
    with pytest.raises(KeyError, match="block6"):
        activations.layer("block6_conv1")


def test_maps_of_every_layer_from_one_pass(fm, tmp_path, photo_maker):
    photo = photo_maker(tmp_path / "a.jpg", "stripes", size=(80, 60))
    every = fm.activations(photo)
    assert list(every) == list(LAYER_NAMES)
    for spec in LAYERS:
        maps = every[spec.name]
        assert maps.shape == (spec.size, spec.size, spec.channels) and maps.dtype == np.float32
        assert maps.min() >= 0  # after the ReLU
    assert fm.maps(photo, "block1_conv1") is every["block1_conv1"]  # the second ask is served from the cache
    with pytest.raises(KeyError):
        fm.maps(photo, "fc1")


def test_same_network_as_the_analysis(fm, extractor, tmp_path, photo_maker):
    """GeM over the halves of block5_conv3 from the maps == the analysis' own descriptor."""
    photo = photo_maker(tmp_path / "b.jpg", "sky", size=(120, 90))
    deep = fm.maps(photo, "block5_conv3").astype(np.float64)
    halves = np.split(deep**descriptor.GEM_P, descriptor.PARTS, axis=0)
    mine = np.concatenate([h.mean(axis=(0, 1)) ** (1 / descriptor.GEM_P) for h in halves])
    from engine.decode import load_for_model

    theirs = extractor.run_batch(load_for_model(photo)[None])[0]
    cosine = mine @ theirs / np.linalg.norm(mine) / np.linalg.norm(theirs)
    assert cosine > 0.995  # the analysis may run in bfloat16; the maps are float32


def test_heatmap_over_the_photo(fm, tmp_path, photo_maker):
    photo = photo_maker(tmp_path / "c.png", "red", size=(90, 40))
    small = fm.heatmap(photo)
    assert small.shape == (14, 14) and small.min() == 0 and small.max() == pytest.approx(1)
    big = fm.heatmap(photo, (90, 40))
    assert big.shape == (40, 90) and big.min() >= 0 and big.max() <= 1
    pic, heat, blended = activations.overlay(fm, photo, max_side=64)
    assert pic.shape == (28, 64, 3) and heat.shape == (28, 64) and blended.shape == pic.shape


def test_unreadable_photo_is_a_decode_error(fm, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg at all")
    with pytest.raises(DecodeError):
        fm.maps(bad, "block1_conv1")


def test_pixels_in_directly(fm):
    maps = fm.maps(np.full((224, 224, 3), 128, np.uint8), "block2_conv1")
    assert maps.shape == (112, 112, 128)
    with pytest.raises(ValueError, match="224x224x3"):
        fm.maps(np.zeros((10, 10, 3), np.uint8), "block2_conv1")


def test_scale_maps_stretches_each_map_on_its_own():
    maps = np.zeros((4, 4, 3), np.float32)
    maps[..., 0] = np.arange(16).reshape(4, 4)  # 0..15
    maps[..., 1] = np.arange(16).reshape(4, 4) * 1000 + 5  # same shape, other range
    # channel 2 is dead (all zero)
    out = scale_maps(maps)
    assert out.shape == (3, 4, 4) and out.dtype == np.uint8
    assert out[0].min() == 0 and out[0].max() == 255
    assert np.array_equal(out[0], out[1])
    assert not out[2].any()
    hot = np.tile(np.arange(400, dtype=np.float32).reshape(20, 20, 1), (1, 1, 2))
    hot[0, 0, 0] = 1e6  # one hot pixel
    assert scale_maps(hot, "minmax")[0, 1:].max() < 5  # min/max: the rest goes dark
    assert scale_maps(hot, "percentile")[0, 1:].max() == 255  # percentiles: the rest keeps its contrast
    with pytest.raises(ValueError):
        scale_maps(maps, "log")


def test_heatmap_colour_and_blend():
    deep = np.zeros((2, 2, 3), np.float32)
    deep[0, 0] = 3
    heat = heatmap(deep)
    assert heat[0, 0] == 1 and heat[1, 1] == 0
    assert heatmap(np.zeros((2, 2, 3))).max() == 0  # flat: no division by zero
    ramp = colorize(np.array([0.0, 1.0]))
    assert ramp.shape == (2, 3) and ramp[0].sum() < 10 and ramp[1].sum() > 600
    photo = np.full((2, 2, 3), 100, np.uint8)
    out = blend(photo, heatmap(deep, (2, 2)))
    assert out.shape == (2, 2, 3) and out[0, 0].sum() > out[1, 1].sum()
    with pytest.raises(ValueError):
        blend(photo, np.zeros((3, 3)))
