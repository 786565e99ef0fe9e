"""Where the VGG16 weights come from, and the one error a person sees when they cannot be had.

Order: an explicit path (``--weights``), else ``PHOTOCLUSTER_WEIGHTS``, else Keras'
own ``weights="imagenet"`` download (cached by Keras in ``~/.keras/models``).
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "PHOTOCLUSTER_WEIGHTS"
IMAGENET = "imagenet"
KERAS_NOTOP_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"

_HOW_TO_FIX = (
    "To fix it, either connect to the internet once so Keras can download the ImageNet VGG16 weights "
    f"(about 58 MB, kept in ~/.keras/models/{KERAS_NOTOP_FILE}), or get a VGG16 'no top' weights file "
    "(.h5 or .weights.h5) yourself and point PhotoCluster at it with the command-line option "
    f"--weights PATH or the environment variable {ENV_VAR}=PATH."
)


_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_BUILD_LOCK = threading.Lock()  # Keras' dtype policy is global while a model is built


class WeightsError(Exception):
    """The model's weights could not be loaded; the message says why and how to fix it."""


@dataclass(frozen=True)
class WeightsSource:
    value: str  # a file path, or "imagenet"
    origin: str  # "option", "environment" or "default"

    @property
    def is_file(self) -> bool:
        return self.value != IMAGENET

    def describe(self) -> str:
        if not self.is_file:
            return "Keras ImageNet weights (download)"
        return f"{self.value} (from {self.option_name})"

    @property
    def option_name(self) -> str:
        return "--weights" if self.origin == "option" else ENV_VAR

    def identity(self) -> str:
        """A short fingerprint of the weights, so cached features from other weights are never reused."""
        if not self.is_file:
            return IMAGENET
        digest = hashlib.blake2b(digest_size=8)
        with open(self.value, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()


def resolve_weights(option: str | None = None) -> WeightsSource:
    """Pick the weights source; raises ``WeightsError`` for a named file that is not there."""
    if option:
        source = WeightsSource(str(Path(option).expanduser()), "option")
    elif os.environ.get(ENV_VAR):
        source = WeightsSource(str(Path(os.environ[ENV_VAR]).expanduser()), "environment")
    else:
        return WeightsSource(IMAGENET, "default")
    path = Path(source.value)
    if not path.is_file():
        raise WeightsError(
            f"The VGG16 weights file {path} (given by {source.option_name}) does not exist. " + _HOW_TO_FIX
        )
    return source


def build_vgg16(source: WeightsSource, outputs: list[str] | None = None, policy: str = "float32"):
    """VGG16's conv base with ``source``'s weights, or ``WeightsError`` with a fix.

    ``outputs`` names the layers the model returns (default: the whole base);
    ``policy`` is the Keras dtype policy it computes in ("mixed_bfloat16", ...).
    """
    import keras

    with _BUILD_LOCK:
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(policy)
        try:
            base = _load_base(source)
        finally:
            keras.config.set_dtype_policy(previous)
    if outputs is None:
        return base
    found = [base.get_layer(name).output for name in outputs]
    return keras.Model(base.input, found[0] if len(found) == 1 else found)


def caffe_input(pixels):
    """uint8 RGB batch -> VGG16's input ("caffe": BGR with the ImageNet mean removed), as a TF tensor."""
    import tensorflow as tf

    return tf.cast(pixels, tf.float32)[..., ::-1] - tf.constant(_CAFFE_MEAN_BGR, tf.float32)


def _load_base(source: WeightsSource):
    import keras

    try:
        return keras.applications.VGG16(include_top=False, weights=source.value, input_shape=(224, 224, 3))
    except Exception as exc:  # Keras raises many types here; each becomes one clear message
        if source.is_file:
            raise WeightsError(
                f"The file {source.value} could not be loaded as VGG16 weights: it is damaged, incomplete, "
                f"or holds another model ({_short(exc)}). " + _HOW_TO_FIX
            ) from None
        raise WeightsError(
            f"PhotoCluster needs the ImageNet VGG16 weights and could not download them ({_short(exc)}). " + _HOW_TO_FIX
        ) from None


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) < 160 else text[:157] + "..."
