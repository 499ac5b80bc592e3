"""What a search found: ranked hits per query, and the files a user opens (CSV, JSON, HTML, labels).

``SearchResults.write(out)`` writes into the folder ``out``:

- ``hits.csv`` / ``hits.json``: one row per hit (query, rank, recording, start and end frame,
  start and end time in seconds, score = cosine similarity of the clip with the query), and in
  the JSON also the queries with their phrasings, the settings and the failures;
- ``hits.html``: per query, the hits in rank order with a strip of thumbnails from each clip;
- ``candidates/<recording>.behavior.json`` (``labels=True``): the hits as bouts, one class per
  query; frames outside the hits are not annotated, so the file opens in napari as candidates
  to confirm, and never teaches a classifier that the rest of the video is negative;
- ``failures.csv``: recordings that could not be searched, with the reason.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from vpbehavior.core.names import name_key
from vpbehavior.reporting import warn_data

from .queries import Query

HIT_COLUMNS = ("query", "rank", "recording", "start_frame", "end_frame", "start_s", "end_s", "score", "video")


@dataclass(frozen=True)
class SearchHit:
    """One ranked clip: frames ``[start, stop)`` of ``recording`` and its cosine similarity with ``query``."""

    query: str
    rank: int
    recording: str
    start: int
    stop: int
    score: float
    fps: float | None = None
    video: str | None = None

    @property
    def start_s(self) -> float | None:
        return None if not self.fps else round(self.start / self.fps, 3)

    @property
    def end_s(self) -> float | None:
        return None if not self.fps else round(self.stop / self.fps, 3)

    def row(self) -> dict:
        """The CSV / JSON row (``end_frame`` inclusive, as a person reads it)."""
        return {
            "query": self.query, "rank": self.rank, "recording": self.recording,
            "start_frame": self.start, "end_frame": self.stop - 1,
            "start_s": self.start_s, "end_s": self.end_s, "score": round(float(self.score), 6), "video": self.video,
        }  # fmt: skip


@dataclass
class SearchResults:
    """Hits per query (best first), the queries, what was searched and what failed."""

    queries: list[Query]
    hits: list[SearchHit]
    recordings: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    n_frames: dict[str, int] = field(default_factory=dict, repr=False)

    def __getitem__(self, query: str) -> list[SearchHit]:
        """The hits of one query, best first."""
        key = name_key(query)
        names = {name_key(q.name) for q in self.queries}
        if key not in names:
            raise KeyError(f"no query named {query!r}; queries: {[q.name for q in self.queries]}")
        return [h for h in self.hits if name_key(h.query) == key]

    @property
    def ok(self) -> bool:
        return not self.failures

    def rows(self) -> list[dict]:
        return [h.row() for h in self.hits]

    def to_pandas(self):
        """The hits as a `pandas.DataFrame` (one row per hit)."""
        import pandas as pd

        return pd.DataFrame(self.rows(), columns=list(HIT_COLUMNS))

    def to_dict(self) -> dict:
        return {
            "format": "vpbehavior-search",
            "format_version": 1,
            "queries": [asdict(q) | {"phrasings": list(q.phrasings)} for q in self.queries],
            "recordings": list(self.recordings),
            "settings": self.settings,
            "hits": self.rows(),
            "failures": [{"recording": n, "reason": r} for n, r in self.failures],
        }

    def write(self, out: str | Path, *, thumbnails: int = 4, labels: bool = False) -> dict[str, Path]:
        """Write the files listed in the module docstring into ``out``; returns them by kind.

        ``thumbnails``: frames shown per hit in hits.html (0: none).
        """
        from vpbehavior._files import atomic_write_text
        from vpbehavior._outputs import write_failures

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        files = {}
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(HIT_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows())
        files["csv"], files["json"], files["html"] = out / "hits.csv", out / "hits.json", out / "hits.html"
        atomic_write_text(files["csv"], buf.getvalue())
        atomic_write_text(files["json"], json.dumps(self.to_dict(), indent=1, default=str))
        strips = write_thumbnails(self.hits, out / "thumbnails", thumbnails) if thumbnails else {}
        atomic_write_text(files["html"], render_html(self, strips, out))
        if labels:
            files["candidates"] = write_candidates(self, out / "candidates")
        failed = write_failures(out / "failures.csv", [(name, "search", why) for name, why in self.failures])
        if failed is not None:
            files["failures"] = failed
        return files


# ------------------------------------------------------------------ thumbnails and the page
def _strip_name(hit: SearchHit) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in hit.query)[:40]
    return f"{safe}-{hit.rank:03d}.jpg"


def write_thumbnails(hits: Sequence[SearchHit], folder: Path, per_hit: int = 4, height: int = 96) -> dict[int, Path]:
    """One JPEG strip of ``per_hit`` frames spread over each hit's clip; hits whose video cannot be read get none."""
    import cv2

    from vpbehavior._files import atomic_output
    from vpbehavior.core.errors import INPUT_ERRORS
    from vpbehavior.io.video import open_video

    folder.mkdir(parents=True, exist_ok=True)
    strips: dict[int, Path] = {}
    by_video: dict[str, list[int]] = {}
    for i, hit in enumerate(hits):
        if hit.video:
            by_video.setdefault(hit.video, []).append(i)
    for video, indices in by_video.items():
        try:
            reader = open_video(video)
        except INPUT_ERRORS as err:
            warn_data(f"{video}: no thumbnails ({err})")
            continue
        try:
            for i in indices:
                hit = hits[i]
                frames = np.unique(np.linspace(hit.start, hit.stop - 1, per_hit).round().astype(int))
                images = []
                for t in frames:
                    img = np.asarray(reader[int(t)])
                    if img.ndim == 2:
                        img = np.repeat(img[..., None], 3, -1)
                    w = max(1, round(img.shape[1] * height / img.shape[0]))
                    images.append(cv2.resize(img, (w, height), interpolation=cv2.INTER_AREA))
                    images.append(np.full((height, 3, 3), 255, np.uint8))  # a white gap between frames
                images.pop()
                path = folder / _strip_name(hit)
                with atomic_output(path) as tmp:
                    ok, data = cv2.imencode(".jpg", cv2.cvtColor(np.concatenate(images, 1), cv2.COLOR_RGB2BGR))
                    Path(tmp).write_bytes(data.tobytes())
                strips[i] = path
        except INPUT_ERRORS as err:
            warn_data(f"{video}: thumbnails stopped ({err})")
        finally:
            reader.close()
    return strips


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape(str(value))


def render_html(results: SearchResults, strips: dict[int, Path], out: Path) -> str:
    """A self-contained page (thumbnails by relative path): per query, its hits best first."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>vpbehavior search</title><style>",
        "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
        "td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left}img{display:block}"
        ".num{text-align:right}",
        "</style></head><body><h1>Text search</h1>",
        f"<p>{len(results.recordings)} recording(s) searched; model {_fmt(results.settings.get('model'))}; "
        f"clips of {_fmt(results.settings.get('clip_length'))} frames every "
        f"{_fmt(results.settings.get('stride'))}. Score: cosine similarity of clip and text.</p>",
    ]
    index = {id(h): i for i, h in enumerate(results.hits)}
    for q in results.queries:
        hits = results[q.name]
        parts.append(f"<h2>{html.escape(q.name)}</h2>")
        if len(q.phrasings) > 1 or q.phrasings[0] != q.name:
            parts.append("<p>phrasings: " + "; ".join(html.escape(p) for p in q.phrasings) + "</p>")
        if not hits:
            parts.append("<p>no hits</p>")
            continue
        parts.append("<table><tr><th>rank</th><th>recording</th><th>frames</th><th>time (s)</th>"
                     "<th>score</th><th>clip</th></tr>")  # fmt: skip
        for h in hits:
            strip = strips.get(index[id(h)])
            img = f"<img src='{html.escape(strip.relative_to(out).as_posix())}' alt='frames'>" if strip else ""
            times = "" if h.start_s is None else f"{h.start_s:.2f} - {h.end_s:.2f}"
            name = html.escape(h.recording)
            if h.video and h.start_s is not None:  # the video at the hit (media fragment: browsers seek to it)
                url = html.escape(Path(h.video).resolve().as_uri() + f"#t={h.start_s:.3f},{h.end_s:.3f}")
                name = f"<a href='{url}'>{name}</a>"
            parts.append(
                f"<tr><td class='num'>{h.rank}</td><td>{name}</td>"
                f"<td>{h.start} - {h.stop - 1}</td><td>{times}</td><td class='num'>{h.score:.4f}</td><td>{img}</td></tr>"
            )
        parts.append("</table>")
    if results.failures:
        parts.append("<h2>Not searched</h2><ul>")
        parts += [f"<li>{html.escape(n)}: {html.escape(r)}</li>" for n, r in results.failures]
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


# ------------------------------------------------------------------ candidates as labels
def write_candidates(results: SearchResults, folder: Path) -> Path:
    """Per recording with hits, ``<recording>.behavior.json``: hit frames labelled, the rest not annotated."""
    from vpbehavior.core import BehaviorLabels
    from vpbehavior.core.names import FRAME_LEVEL
    from vpbehavior.features.cache import cache_path
    from vpbehavior.io.labels_file import SUFFIX, save_labels

    folder.mkdir(parents=True, exist_ok=True)
    classes = [q.name for q in results.queries]
    for rec in dict.fromkeys(h.recording for h in results.hits):
        n = results.n_frames.get(rec) or max(h.stop for h in results.hits if h.recording == rec)
        values = np.full((n, 1, len(classes)), -1, np.int8)
        hits = [h for h in results.hits if h.recording == rec]
        for h in hits:
            span = values[h.start : h.stop, 0]
            span[span == -1] = 0
        for h in hits:
            values[h.start : h.stop, 0, classes.index(h.query)] = 1
        labels = BehaviorLabels(values, classes, (FRAME_LEVEL,))
        save_labels(labels, cache_path(folder, rec, suffix=SUFFIX))
    return folder
