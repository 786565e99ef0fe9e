"""Export: one folder per cluster, chosen destination and mode, a preview and dry run, then a summary.

The plan (``engine.export.plan_export``) only reads the disk and is made in a
pool thread whenever the destination or mode changes; the export itself runs in
a ``GeneratorWorker`` with progress and Cancel. Existing files are never
overwritten: the engine adds " (2)" to a name that is taken.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.cluster import UNSORTED
from engine.duplicates import best_of_groups, redundant
from engine.export import ExportPlan, ExportReport, plan_export, run_export, undo_export
from engine.session import Session

from . import settings as app_settings
from .icons import icon
from .workers import GeneratorWorker, TaskPool

MODES = (
    ("copy", "Copy", "The photos stay where they are; copies go into the cluster folders."),
    ("move", "Move", "The photos leave this folder and go into the cluster folders."),
    ("symlink", "Link", "Each cluster folder gets symbolic links to the photos, which stay where they are."),
)
CLASH_TEXT = (
    "Nothing is ever overwritten: when a name is already taken in a folder, the photo gets “ (2)” "
    "(or the next free number) added to its name. A manifest.csv lists every photo and its cluster."
)


def _export(plan: ExportPlan, cancel):
    return (yield from run_export(plan, cancel))


def _undo(dest: Path, cancel):
    return (yield from undo_export(dest, cancel))


class ExportDialog(QDialog):
    photos_relocated = Signal(dict)  # a move export or its undo moved photos: {old session path: new}

    def __init__(self, session: Session, parent=None, duplicate_groups=()):
        super().__init__(parent)
        self.session = session
        self.plan: ExportPlan | None = None
        self.report: ExportReport | None = None
        self._worker: GeneratorWorker | None = None
        self._plan_generation = 0
        self._moved: dict[str, str] = {}  # what the last move export did: {session path before: after}
        self._pool = TaskPool(1, "export-plan", self)
        self.setWindowTitle("Export Clusters to Folders")
        self.resize(720, 640)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        row = QHBoxLayout()
        self.dest_edit = QLineEdit(self._default_destination())
        self.dest_edit.setPlaceholderText("Folder to create the cluster folders in")
        choose = QPushButton(icon("folder-open"), "Choose…")
        choose.clicked.connect(self.choose_destination)
        row.addWidget(self.dest_edit, 1)
        row.addWidget(choose)
        form.addRow("Destination", row)
        modes = QVBoxLayout()
        self.mode_group = QButtonGroup(self)
        for n, (key, label, tip) in enumerate(MODES):
            button = QRadioButton(f"{label}  —  {tip}")
            button.setProperty("mode", key)
            button.setChecked(n == 0)
            self.mode_group.addButton(button, n)
            modes.addWidget(button)
        form.addRow("Photos", modes)
        self.unsorted_box = QCheckBox("Also export the Unsorted photos (into an “Unsorted” folder)")
        self.unsorted_box.setChecked(True)
        self.unsorted_box.setVisible(bool(session.members(UNSORTED)))
        form.addRow("", self.unsorted_box)
        self.duplicate_groups = list(duplicate_groups)
        extra = len(redundant(self.duplicate_groups))
        self.best_only_box = QCheckBox(
            f"Only the best photo of each group of near-duplicates "
            f"(leaves out {extra} extra cop{'ies' if extra != 1 else 'y'})"
        )
        self.best_only_box.setVisible(bool(extra))
        form.addRow("", self.best_only_box)
        layout.addLayout(form)
        clash = QLabel(CLASH_TEXT)
        clash.setWordWrap(True)
        clash.setObjectName("hint")
        layout.addWidget(clash)
        self.folders = QTreeWidget()
        self.folders.setHeaderLabels(["Folder", "Photos"])
        self.folders.setRootIsDecorated(False)
        self.folders.setColumnWidth(0, 420)
        layout.addWidget(self.folders, 2)
        self.plan_label = QLabel()
        self.plan_label.setWordWrap(True)
        layout.addWidget(self.plan_label)
        self.dry_run_box = QCheckBox("Show the dry run: every file and where it will go")
        layout.addWidget(self.dry_run_box)
        self.dry_run = QPlainTextEdit(readOnly=True)
        self.dry_run.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.dry_run.setVisible(False)
        self.dry_run_box.toggled.connect(self.dry_run.setVisible)
        layout.addWidget(self.dry_run, 3)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        layout.addWidget(self.progress)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setVisible(False)
        layout.addWidget(self.result_label)
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setIcon(icon("export"))
        self.export_button.setDefault(True)
        self.open_button = self.buttons.addButton("Open Destination", QDialogButtonBox.ButtonRole.ActionRole)
        self.open_button.setIcon(icon("external"))
        self.open_button.setVisible(False)
        self.undo_button = self.buttons.addButton("Undo Export", QDialogButtonBox.ButtonRole.ActionRole)
        self.undo_button.setIcon(icon("undo"))
        self.undo_button.setToolTip("Put moved photos back where they were and remove the copies and links made")
        self.undo_button.setVisible(False)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.close_button.setVisible(False)
        self.export_button.clicked.connect(self.start_export)
        self.open_button.clicked.connect(self.open_destination)
        self.undo_button.clicked.connect(self.start_undo)
        self.cancel_button.clicked.connect(self.cancel_or_close)
        self.close_button.clicked.connect(self.accept)
        layout.addWidget(self.buttons)
        self.open_failed: QDialog | None = None  # the message shown when no file manager could open the folder
        self._replan_timer = QTimer(self, singleShot=True, interval=250)
        self._replan_timer.timeout.connect(self.replan)
        self.dest_edit.textChanged.connect(self._replan_timer.start)
        self.mode_group.idToggled.connect(self._replan_timer.start)
        self.unsorted_box.toggled.connect(self._replan_timer.start)
        self.best_only_box.toggled.connect(self._replan_timer.start)
        self.replan()

    # ---- choosing ----------------------------------------------------------------------
    def _default_destination(self) -> str:
        last = app_settings.settings().value("exportParent")
        parent = Path(last) if last and Path(last).is_dir() else self.session.root.parent
        return str(parent / f"{self.session.root.name} sorted")

    @property
    def mode(self) -> str:
        button = self.mode_group.checkedButton()
        return button.property("mode") if button is not None else "copy"

    def set_mode(self, mode: str) -> None:
        for button in self.mode_group.buttons():
            button.setChecked(button.property("mode") == mode)

    def choose_destination(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export Into", str(Path(self.dest_edit.text()).parent))
        if folder:
            self.dest_edit.setText(folder)

    def replan(self) -> None:
        """Make the plan for what is chosen now, in a pool thread; an older plan arriving late is dropped."""
        self._plan_generation += 1
        dest = self.dest_edit.text().strip()
        self.export_button.setEnabled(False)
        if not dest:
            self.plan_label.setText("Choose a destination folder.")
            return
        assignments = self.session.assignments()
        if not self.unsorted_box.isChecked():
            assignments = [(p, name) for p, name in assignments if self.session.labels[p] != UNSORTED]
        if self.best_only_box.isChecked():
            keep = set(best_of_groups(self.duplicate_groups, [p for p, _ in assignments]))
            assignments = [(p, name) for p, name in assignments if p in keep]
        confidence = dict(self.session.confidence)
        self.plan_label.setText("Planning…")
        self._pool.submit(
            _make_plan,
            self._plan_generation,
            self.session.root,
            assignments,
            dest,
            self.mode,
            confidence,
            done=self._planned,
            failed=self._plan_failed,
        )

    def _planned(self, result) -> None:
        generation, plan = result
        if generation != self._plan_generation:
            return
        self.plan = plan
        self.folders.clear()
        for folder, count in sorted(plan.folders().items()):
            item = QTreeWidgetItem([folder, f"{count:,}"])
            item.setIcon(0, icon("folder-open"))
            self.folders.addTopLevelItem(item)
        verb = {"copy": "copied", "move": "moved", "symlink": "linked"}[plan.mode]
        text = f"{len(plan.items):,} photos will be {verb} into {len(plan.folders())} folders in <b>{plan.dest}</b>."
        if plan.excluded:
            text += f" {len(plan.excluded)} will be left out (see the dry run)."
        self.plan_label.setText(text)
        self.dry_run.setPlainText(plan.describe())
        self.export_button.setEnabled(bool(plan.items) and self._worker is None and self.report is None)

    def _plan_failed(self, exc: BaseException) -> None:
        self.plan = None
        self.folders.clear()
        self.plan_label.setText(f"<span style='color:#c0392b'>{exc}</span>")

    # ---- running ----------------------------------------------------------------------
    def start_export(self) -> None:
        if self.plan is None or self._worker is not None:
            return
        app_settings.settings().setValue("exportParent", str(self.plan.dest.parent))
        self._run(GeneratorWorker(_export, self.plan), len(self.plan.items))

    def start_undo(self) -> None:
        """Undo the export just made, from its journal in the destination."""
        if self.plan is None or self._worker is not None:
            return
        self.undo_button.setEnabled(False)
        self.result_label.setVisible(False)
        self._run(GeneratorWorker(_undo, self.plan.dest), len(self.report.done) if self.report else 0)

    def _run(self, worker: GeneratorWorker, total: int) -> None:
        worker.progress.connect(self._progress)
        worker.returned.connect(self._done)
        worker.errored.connect(self._failed)
        worker.finished.connect(self._finished)
        self._worker = worker
        for widget in self.findChildren(QWidget):
            if isinstance(widget, (QRadioButton, QLineEdit, QCheckBox)) and widget is not self.dry_run_box:
                widget.setEnabled(False)
        self.export_button.setEnabled(False)
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        worker.start()

    def _progress(self, progress) -> None:
        self.progress.setRange(0, max(1, progress.total))
        self.progress.setValue(progress.done)
        doing = "Undoing the export" if progress.stage == "undo" else "Exporting"
        self.plan_label.setText(f"{doing}: {progress.done:,} of {progress.total:,} · {progress.message}")

    def _done(self, report: ExportReport) -> None:
        self.report = report
        lines = [f"<b>{report.summary()}.</b>"]
        if report.skipped:
            lines.append("Skipped:")
            lines += [f"• {rel}: {why}" for rel, why in report.skipped[:12]]
            if len(report.skipped) > 12:
                lines.append(f"… and {len(report.skipped) - 12} more (listed in the dry run above).")
        if report.warnings:
            lines += report.warnings
        if report.manifest_csv:
            lines.append(f"The list of what went where is in {report.manifest_csv.name}.")
        self.result_label.setText("<br>".join(lines))
        self.result_label.setVisible(True)
        self.plan_label.setText("Done." if not report.cancelled else "Cancelled.")
        if report.skipped:
            self.dry_run.setPlainText("\n".join(f"skipped {rel}: {why}" for rel, why in report.skipped))
        self.open_button.setVisible(report.mode != "undo")
        self.undo_button.setVisible(report.mode != "undo" and bool(report.done))
        self.undo_button.setEnabled(True)
        if report.mode == "move" and report.done:
            self._moved = {rel: _relative(target, self.session.root) for rel, target in report.done}
            self.photos_relocated.emit(dict(self._moved))
        elif report.mode == "undo" and report.done:
            back = {
                self._moved[rel]: _relative(restored, self.session.root)
                for rel, restored in report.done
                if rel in self._moved
            }
            self.photos_relocated.emit(back)

    def _failed(self, exc: BaseException) -> None:
        self.result_label.setText(f"<b>The export failed:</b> {exc}")
        self.result_label.setVisible(True)

    def _finished(self) -> None:
        self._worker = None
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.close_button.setVisible(True)
        self.close_button.setDefault(True)

    def cancel_or_close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self.cancel_button.setEnabled(False)
            self.plan_label.setText("Stopping after the current photo…")
        else:
            self.reject()

    def open_destination(self) -> None:
        """Show the export folder in the file manager; where none is set up, say so and give the path to copy."""
        if self.plan is None:
            return
        dest = str(self.plan.dest)
        if QDesktopServices.openUrl(QUrl.fromLocalFile(dest)):
            return
        self.open_failed = _PathMessage(
            "No program to show folders is set up on this computer, so the folder could not be opened. "
            "The sorted photos are in:",
            dest,
            self,
        )
        self.open_failed.open()

    def done(self, result: int) -> None:
        if self._worker is not None:  # closing mid-export: stop cleanly first
            self._worker.cancel()
            self._worker.wait()
        self._pool.shutdown()
        super().done(result)


class _PathMessage(QDialog):
    """A message with a path the person can select or copy (to open it by hand)."""

    def __init__(self, text: str, path: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Open Destination")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(self)
        message = QLabel(text)
        message.setWordWrap(True)
        layout.addWidget(message)
        self.path_edit = QLineEdit(path, readOnly=True)
        self.path_edit.setMinimumWidth(420)
        layout.addWidget(self.path_edit)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy Path", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(path))
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.copy_button = copy


def _relative(path: Path, root: Path) -> str:
    """``path`` as a session path: relative to ``root`` (``..`` when outside it), ``/``-separated."""
    try:
        return Path(os.path.relpath(path, root)).as_posix()
    except ValueError:  # another drive (Windows): keep it absolute
        return Path(path).as_posix()


def _make_plan(generation: int, root: Path, assignments, dest: str, mode: str, confidence: dict):
    return generation, plan_export(root, assignments, dest, mode, confidence=confidence)
