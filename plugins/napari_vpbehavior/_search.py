"""The text-search panel: find moments of the video on screen by describing them (LvT, zero-shot).

Queries go one per line (``name: phrasing | phrasing`` averages several phrasings). *search*
embeds the recording's clips once (in a worker thread, with progress and cancel) and ranks them
for every query; the hits are listed best first (clicking one seeks to it and shades it in the
ethogram) and each query's per-frame similarity becomes a ``search: <query>`` lane of the
ethogram. The panel keeps its `vpbehavior.TextSearch` (model, tokenizer, clip embeddings) while
the weights, tokenizer and clip settings stay the same, so further queries take milliseconds.
Uses the public API only; torch is imported in the worker thread.
"""

from __future__ import annotations

from pathlib import Path

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vpbehavior.core import ConfigError, MissingFileError, VpbehaviorError

from ._ethogram import Trace
from ._session import session_for, setting
from ._widgets import WEIGHTS_FILES, Job, _button, _file_button, _report, temp_folder

#: the prefix of the ethogram lanes this panel draws
LANE_PREFIX = "search: "

HIT_COLUMNS = ("query", "#", "frames", "time (s)", "score")


def parse_query_text(text: str) -> list:
    """The `Query` objects of the query box: one per line, blank lines and ``#`` comments skipped."""
    from vpbehavior.search import as_queries

    lines = [line.strip() for line in text.splitlines()]
    return as_queries([line for line in lines if line and not line.startswith("#")])


def hit_cells(hit) -> tuple[str, str, str, str, str]:
    """The table row of a `SearchHit`: query, rank, frames (end inclusive), seconds, score."""
    seconds = f"{hit.start / hit.fps:.2f}–{hit.stop / hit.fps:.2f}" if hit.fps else ""
    return hit.query, str(hit.rank), f"{hit.start}–{hit.stop - 1}", seconds, f"{hit.score:.4f}"


class SearchWidget(QWidget):
    """Text queries against the LvT clip embeddings of the recording on screen: ranked hits and ethogram lanes."""

    WEIGHTS = ("videoprism_lvt_public_v1_base", "videoprism_lvt_public_v1_large")

    def __init__(self, napari_viewer, model=None) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.session = session_for(napari_viewer)
        self.weights = QComboBox()
        self.weights.setEditable(True)
        self.weights.addItems(self.WEIGHTS)
        self.weights.setCurrentText(str(setting("search", "weights", self.WEIGHTS[0]) or self.WEIGHTS[0]))
        self.weights.setToolTip("LvT video-text weights: a released name or a .npz / .safetensors file")
        self.tokenizer = QLineEdit(str(setting("search", "tokenizer", "") or ""))
        self.tokenizer.setPlaceholderText("SentencePiece .model of the text tower (c4_en)")
        self.queries = QPlainTextEdit()
        self.queries.setPlaceholderText(
            "one query per line, e.g.\ntwo mice fighting\ngrooming: a mouse grooming | a mouse licking its fur"
        )
        self.queries.setMaximumHeight(90)
        self.top = QSpinBox()
        self.top.setRange(1, 1000)
        self.top.setValue(10)
        self.top.setToolTip("hits per query (hits never overlap in time)")
        self.size = QSpinBox()
        self.size.setRange(0, 1024)
        self.size.setSingleStep(12)
        self.size.setToolTip("input size in pixels (0: the model's own, 288 for base)")
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        self.device.setCurrentText(str(setting("training", "device", "auto")))
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.run_button = _button("search", self.search, "embed the video's clips (once) and rank them for each query")
        self.cancel_button = _button("cancel", self.cancel)
        self.table = QTableWidget(0, len(HIT_COLUMNS))
        self.table.setHorizontalHeaderLabels(list(HIT_COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.cellClicked.connect(lambda row, _col: self.go_to(row))
        self.table.currentCellChanged.connect(lambda row, *_: self.go_to(row))

        form = QFormLayout()
        wrow = QHBoxLayout()
        wrow.addWidget(self.weights, 1)
        wrow.addWidget(
            _file_button(self, "…", "weights file", "LvT weights", WEIGHTS_FILES, self.weights.setCurrentText)
        )
        form.addRow("LvT weights", wrow)
        trow = QHBoxLayout()
        trow.addWidget(self.tokenizer, 1)
        trow.addWidget(_file_button(self, "…", "SentencePiece .model file", "SentencePiece model",
                                    "SentencePiece (*.model)", self.tokenizer.setText))  # fmt: skip
        form.addRow("tokenizer", trow)
        orow = QHBoxLayout()
        for text, box in (("hits", self.top), ("size", self.size), ("device", self.device)):
            orow.addWidget(QLabel(text))
            orow.addWidget(box)
        form.addRow(orow)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("queries"))
        layout.addWidget(self.queries)
        row = QHBoxLayout()
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        row.addWidget(_button("clear", self.clear, "remove the hits and the search lanes"))
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)

        self.job = Job(self.session, self.progress, self.status, self.run_button, self.cancel_button, "search")
        self.hits: list = []
        self.results = None
        self._engine = None
        self._engine_key: tuple | None = None
        self._model = None  # (label in the weights box, model) of `set_model`
        self._cache: Path | None = None
        self.session.changed.connect(self._on_session)
        if model is not None:
            self.set_model(model)

    # -- choices ---------------------------------------------------------------------------
    def set_model(self, model, name: str = "(loaded model)") -> None:
        """Search with an LvT model already in memory (shown as ``name`` in the weights box)."""
        self._model = (name, model)
        if self.weights.findText(name) < 0:
            self.weights.insertItem(0, name)
        self.weights.setCurrentText(name)

    @property
    def engine(self):
        """The `vpbehavior.TextSearch` of the last search (None before the first)."""
        return self._engine

    @property
    def worker(self):
        """The running worker, or None."""
        return self.job.worker

    def _cache_dir(self) -> Path:
        text = str(setting("search", "embedding_cache", "") or "").strip()
        if text:
            return Path(text)
        if self._cache is None:
            self._cache = temp_folder("vpbehavior-napari-clips-")
        return self._cache

    def _inputs(self):
        """What the search needs, checked here (GUI thread): ``(recording, queries, model-or-weights, key, tokenizer)``."""
        rec = self.session.recording
        if rec is None:
            raise VpbehaviorError("open a video first")
        if rec.video is None:
            raise VpbehaviorError(f"{rec.name!r} has no video to search")
        queries = parse_query_text(self.queries.toPlainText())
        weights = self.weights.currentText().strip()
        if self._model is not None and weights == self._model[0]:
            model, model_key = self._model[1], ("model", id(self._model[1]))
        elif weights:
            model, model_key = weights, ("weights", weights)
        else:
            raise ConfigError("choose the LvT weights (e.g. videoprism_lvt_public_v1_base)")
        text = self.tokenizer.text().strip()
        if not text:
            raise ConfigError("choose the tokenizer: the text tower's SentencePiece .model file (c4_en)")
        tokenizer = Path(text).expanduser()
        if not tokenizer.is_file():
            raise MissingFileError(f"{tokenizer}: SentencePiece model not found", tokenizer)
        key = (model_key, str(tokenizer.resolve()), self.size.value(), self.device.currentText())
        return rec, queries, model, key, tokenizer

    # -- the work --------------------------------------------------------------------------
    def search(self):
        """Start the worker (returns it, or None after a message); hits and lanes appear when it finishes."""
        if self.job.running:
            self.session.say("already running")
            return self.job.worker
        try:
            rec, queries, model, key, tokenizer = self._inputs()
        except VpbehaviorError as err:
            self.status.setText(str(err))
            _report(self.session, err)
            return None
        engine = self._engine if key == self._engine_key else None
        size, device, top = self.size.value(), self.device.currentText(), self.top.value()
        cache = self._cache_dir()
        progress = self.job.callback()

        def work():
            import vpbehavior as vpb
            from vpbehavior.reporting import ProgressUpdate

            search = engine
            if search is None:
                progress(ProgressUpdate("load LvT model", 0, None))
                config = vpb.SearchConfig(size=size, device=device, top=top)
                search = vpb.TextSearch(model, tokenizer, config=config, cache=cache)
            results = search.search(rec, queries, top=top, progress=progress)
            if results.failures:
                name, reason = results.failures[0]
                raise VpbehaviorError(f"{name}: {reason}")
            return key, search, rec, results, search.trace(rec, queries)

        return self.job.start(work, self._on_done, "embedding clips…" if engine is None else "searching…")

    def cancel(self) -> None:
        self.job.cancel()

    def _on_done(self, result) -> None:
        key, engine, rec, results, trace = result
        self._engine, self._engine_key = engine, key
        if self.session.recording is not rec:
            self.status.setText("another recording was opened during the search: search again")
            return
        self.results = results
        self.show_hits(results.hits)
        lanes = [Trace(LANE_PREFIX + q.name, trace[:, i]) for i, q in enumerate(results.queries)]
        try:
            self.session.set_traces(LANE_PREFIX, lanes)
        except VpbehaviorError as err:
            _report(self.session, err)
        n_q = len(results.queries)
        self.status.setText(f"{len(results.hits)} hits for {n_q} quer{'y' if n_q == 1 else 'ies'} in {rec.name}")

    # -- hits ------------------------------------------------------------------------------
    def show_hits(self, hits) -> None:
        """Fill the table with ``hits`` (in their order: per query, best first)."""
        self.hits = list(hits)
        self.table.blockSignals(True)
        self.table.clearContents()
        self.table.setRowCount(len(self.hits))
        for r, hit in enumerate(self.hits):
            for c, text in enumerate(hit_cells(hit)):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter))
                self.table.setItem(r, c, item)
        self.table.blockSignals(False)

    def go_to(self, row: int) -> None:
        """Seek to the start of the ``row``-th hit and shade its frames in the ethogram."""
        if 0 <= row < len(self.hits):
            hit = self.hits[row]
            self.session.show_span(hit.start, hit.stop)
            self.session.say(f"{hit.query} #{hit.rank}: frames {hit.start}-{hit.stop - 1}, score {hit.score:.4f}")

    def clear(self) -> None:
        """Forget the hits and remove the search lanes (the embeddings are kept)."""
        self.show_hits([])
        self.results = None
        if self.session.recording is not None:
            self.session.set_traces(LANE_PREFIX, [])

    def _on_session(self, what: str) -> None:
        if what == "recording":  # the hits belong to the recording that was on screen
            self.show_hits([])
            self.results = None
            self.status.setText("")
