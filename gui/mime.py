"""The drag-and-drop payloads between the photo grid and the cluster list: stable ids as JSON."""

from __future__ import annotations

import json

from PySide6.QtCore import QMimeData

IMAGE_IDS = "application/x-photocluster-image-ids"  # relative paths of photos
CLUSTER_IDS = "application/x-photocluster-cluster-ids"  # session cluster ids


def pack(mime_type: str, ids: list) -> QMimeData:
    data = QMimeData()
    data.setData(mime_type, json.dumps(ids).encode("utf-8"))
    return data


def unpack(data: QMimeData, mime_type: str) -> list:
    """The ids in ``data``, or ``[]`` when it holds none (or something malformed)."""
    if data is None or not data.hasFormat(mime_type):
        return []
    try:
        ids = json.loads(bytes(data.data(mime_type)).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return []
    return ids if isinstance(ids, list) else []
