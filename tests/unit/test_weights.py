import pytest

from engine.weights import ENV_VAR, IMAGENET, WeightsError, build_vgg16, resolve_weights


def test_option_beats_environment_beats_default(tmp_path, monkeypatch, weights_path):
    other = tmp_path / "other.h5"
    other.write_bytes(b"x")
    assert resolve_weights().value == IMAGENET
    monkeypatch.setenv(ENV_VAR, str(other))
    assert resolve_weights().value == str(other) and resolve_weights().origin == "environment"
    assert resolve_weights(str(weights_path)).value == str(weights_path)


def test_missing_file_names_the_file_and_both_fixes(tmp_path):
    with pytest.raises(WeightsError) as err:
        resolve_weights(str(tmp_path / "nope.h5"))
    text = str(err.value)
    assert "nope.h5" in text and "--weights" in text and ENV_VAR in text


def test_damaged_weights_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.weights.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(WeightsError) as err:
        build_vgg16(resolve_weights(str(bad)))
    assert str(bad) in str(err.value) and "--weights" in str(err.value)


def test_no_download_possible_explains_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # no cached download to fall back on
    import keras

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: no network")

    monkeypatch.setattr(keras.applications.vgg16, "VGG16", offline, raising=False)
    monkeypatch.setattr(keras.applications, "VGG16", offline)
    with pytest.raises(WeightsError) as err:
        build_vgg16(resolve_weights())
    text = str(err.value)
    assert "download" in text and "--weights" in text and ENV_VAR in text


def test_weights_of_another_model_are_refused_by_name(tmp_path):
    import keras

    other = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(4, 3), keras.layers.Dense(2)])
    path = tmp_path / "other_model.weights.h5"
    other.save_weights(path)
    with pytest.raises(WeightsError) as err:
        build_vgg16(resolve_weights(str(path)))
    assert "other_model.weights.h5" in str(err.value) and "another model" in str(err.value)


def test_truncated_weights_file_is_refused(tmp_path, weights_path):
    cut = tmp_path / "cut.weights.h5"
    cut.write_bytes(weights_path.read_bytes()[:5_000_000])
    with pytest.raises(WeightsError, match=r"cut\.weights\.h5"):
        build_vgg16(resolve_weights(str(cut)))
