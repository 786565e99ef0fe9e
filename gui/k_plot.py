"""Why this many clusters: the score of every candidate k as a small plot under the cluster list.

The automatic choice (engine.cluster.choose_k) scores k = 2..15 by silhouette.
The plot shows that curve with the chosen k marked, and one line of text: the
clear best, or "no clear k" when the curve is flat and a moderate k was taken.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from .theme import ACCENT


class KScorePlot(QWidget):
    """A line of silhouette per k; the chosen k is a filled dot."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.scores: dict[int, float] = {}
        self.chosen = 0
        self.setMinimumHeight(64)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(220, 72)

    def set_scores(self, scores: dict[int, float], chosen: int) -> None:
        self.scores, self.chosen = dict(sorted(scores.items())), chosen
        self.setToolTip(
            "Silhouette per number of clusters (higher: better separated)\n"
            + "  ".join(f"{k}: {v:.2f}" for k, v in self.scores.items())
        )
        self.update()

    def points(self) -> dict[int, QPointF]:
        """Where each k is drawn (also what the tests read)."""
        if not self.scores:
            return {}
        area = QRectF(self.rect()).adjusted(8, 6, -8, -16)
        ks = list(self.scores)
        lo, hi = min(self.scores.values()), max(self.scores.values())
        span = max(hi - lo, 0.05)  # a flat curve looks flat, not like noise blown up
        step = area.width() / max(len(ks) - 1, 1)
        return {
            k: QPointF(area.left() + i * step, area.bottom() - (self.scores[k] - lo) / span * area.height())
            for i, k in enumerate(ks)
        }

    def paintEvent(self, event) -> None:
        points = self.points()
        if not points:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        muted = self.palette().color(self.foregroundRole())
        muted.setAlpha(140)
        path = QPainterPath(next(iter(points.values())))
        for point in list(points.values())[1:]:
            path.lineTo(point)
        painter.setPen(QPen(ACCENT, 1.5))
        painter.drawPath(path)
        painter.setPen(QPen(muted))
        font = painter.font()
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.75))
        painter.setFont(font)
        for k, point in points.items():
            if k in (min(points), max(points), self.chosen):
                painter.drawText(
                    QRectF(point.x() - 10, self.height() - 14, 20, 12), Qt.AlignmentFlag.AlignCenter, str(k)
                )
        if self.chosen in points:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(ACCENT))
            painter.drawEllipse(points[self.chosen], 4, 4)
        painter.end()


class KChoicePanel(QWidget):
    """The plot and its one-line verdict; hidden until an automatic k has been chosen."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("kChoice")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 8)
        layout.setSpacing(2)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.plot = KScorePlot()
        layout.addWidget(self.caption)
        layout.addWidget(self.plot)
        self.hide()

    def show_choice(self, scores: dict[int, float], k: int, clear: bool) -> None:
        if not scores:
            self.hide()
            return
        self.plot.set_scores(scores, k)
        if clear:
            self.caption.setText(f"Automatic: {k} clusters separate the photos best")
        else:
            self.caption.setText(f"No clear k: picked {k} (the scores are flat; merge or split as you like)")
        self.show()
