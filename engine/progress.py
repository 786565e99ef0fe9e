"""The one ``Progress``: what every long job of the engine yields (analysis, near-duplicates, export, layouts)."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    stage: str  # "scan", "cache", "features", "duplicates", ...
    done: int
    total: int
    rate: float = 0.0  # items per second in this stage
    eta: float | None = None  # seconds left, when known
    message: str = ""
    engine: str = ""  # the model's engine and precision while photos are analysed ("OpenVINO INT8")

    @classmethod
    def timed(cls, stage: str, done: int, total: int, started: float, message: str = "", engine: str = "") -> Progress:
        """Progress with rate and time left worked out from when the stage ``started`` (perf_counter)."""
        elapsed = time.perf_counter() - started
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else None
        return cls(stage, done, total, rate, eta, message, engine)
