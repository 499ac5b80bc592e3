"""Text search: rankings equal an independent computation, embeddings are cached, batch work goes on."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import torch

import vpbehavior as vpb
from vpbehavior.models import Tokenizer


def independent_clip_scores(model, spm, recording, texts, length=4, stride=4, size=36):
    """Clip starts and cosine scores ``[n, Q]`` straight from `encode_video` / `encode_text`, no search code."""
    reader = vpb.open_video(recording)
    frames = np.stack(list(reader.iter_frames(0, len(reader), size=(size, size))))
    starts = list(range(0, len(frames) - length + 1, stride))
    video = torch.from_numpy(np.stack([frames[s : s + length] for s in starts])).float() / 255.0
    ids, pads = Tokenizer(spm)(texts)
    with torch.no_grad():
        clip_emb, _ = model.encode_video(video)
        text_emb = model.encode_text(ids, pads)
    return np.array(starts), (clip_emb @ text_emb.T).numpy()


def test_ranking_equals_an_independent_computation(lvt, spm, videos, tmp_path, monkeypatch):
    monkeypatch.setenv("VPBEHAVIOR_CPU_BF16", "0")  # float32 on both sides (bf16 autocast where the CPU has it)
    data = vpb.load(videos)
    config = vpb.SearchConfig(size=36, stride=4, top=6)  # clips do not overlap: the ranking is a plain sort
    queries = ["a mouse grooming", "two flies fighting"]
    results = vpb.search(data, queries, lvt, tokenizer=spm, config=config, cache=tmp_path / "clips")
    assert results.ok and results.recordings == [r.name for r in data.recordings]
    for q, query in enumerate(queries):
        expected = []
        for rec in data.recordings:
            starts, scores = independent_clip_scores(lvt, spm, rec, queries)
            expected += [(float(s), rec.name, int(t)) for t, s in zip(starts, scores[:, q])]
        expected.sort(key=lambda e: -e[0])
        got = results[query]
        assert [h.rank for h in got] == list(range(1, 7))
        assert [(h.recording, h.start, h.stop) for h in got] == [(n, t, t + 4) for _, n, t in expected[:6]]
        np.testing.assert_allclose([h.score for h in got], [e[0] for e in expected[:6]], atol=2e-5)


def test_hits_never_overlap_and_the_best_clip_comes_first(lvt, spm, videos, tmp_path, config):
    results = vpb.search(videos, ["grooming"], lvt, tokenizer=spm, config=config, cache=tmp_path)
    hits = results["grooming"]
    assert len(hits) == config.top
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))
    for i, a in enumerate(hits):
        for b in hits[i + 1 :]:
            assert a.recording != b.recording or a.stop <= b.start or b.stop <= a.start, (a, b)
    # the best hit is the best clip of all: no clip anywhere scores higher
    engine = vpb.TextSearch(lvt, spm, config, cache=tmp_path)
    _, text = engine.encode(["grooming"])
    best = max(float(engine.embed(r).similarity(text).max()) for r in vpb.load(videos).recordings)
    assert hits[0].score == pytest.approx(best, abs=1e-6)


def test_clip_embeddings_are_cached_and_reused(lvt, spm, videos, tmp_path, config, count_clips):
    cache = tmp_path / "clips"
    first = vpb.search(videos, ["grooming"], lvt, tokenizer=spm, config=config, cache=cache)
    n_clips = count_clips.clips
    assert n_clips == 2 * 19  # 40 frames, clips of 4 every 2: 19 per video
    assert len(list(cache.glob("*.clips.h5"))) == 2
    again = vpb.search(videos, ["fighting", "grooming"], lvt, tokenizer=spm, config=config, cache=cache)
    assert count_clips.clips == n_clips  # a new session, new queries: no second video forward
    assert [(h.recording, h.start) for h in again["grooming"]] == [(h.recording, h.start) for h in first["grooming"]]
    np.testing.assert_allclose([h.score for h in again["grooming"]], [h.score for h in first["grooming"]], atol=1e-6)
    vpb.search(videos, ["grooming"], lvt, tokenizer=spm, config=vpb.SearchConfig(size=36, stride=4), cache=cache)
    assert count_clips.clips == n_clips + 2 * 10  # other clip settings: computed anew (10 clips per video)


def test_an_interrupted_embedding_resumes_where_it_stopped(lvt, spm, videos, tmp_path, config, count_clips):
    rec = vpb.load(videos).recordings[0]

    def stop_after_first_batch(update):
        if update.task.startswith("embed") and update.done >= 3:
            raise KeyboardInterrupt

    engine = vpb.TextSearch(lvt, spm, config, cache=tmp_path)
    with pytest.raises(KeyboardInterrupt):
        engine.embed(rec, progress=stop_after_first_batch)
    assert list(tmp_path.glob("*.clips.h5.partial")) and count_clips.clips == 3
    clips = vpb.TextSearch(lvt, spm, config, cache=tmp_path).embed(rec)
    assert count_clips.clips == 19  # the 16 clips left, not all 19 again
    fresh = vpb.TextSearch(lvt, spm, config, cache=tmp_path / "fresh").embed(rec)
    np.testing.assert_allclose(clips.embedding, fresh.embedding, atol=1e-6)
    np.testing.assert_array_equal(clips.start, fresh.start)


def test_a_query_file_gives_what_each_query_gives_alone(lvt, spm, videos, tmp_path, config):
    qfile = tmp_path / "queries.txt"
    qfile.write_text(
        "# what to look for\na mouse grooming\n\nfight: two flies fighting | animals fighting\nzebra running\n"
    )
    queries = vpb.read_query_file(qfile)
    assert [q.name for q in queries] == ["a mouse grooming", "fight", "zebra running"]
    assert queries[1].phrasings == ("two flies fighting", "animals fighting")
    engine = vpb.TextSearch(lvt, spm, config, cache=tmp_path / "clips")
    together = engine.search(videos, queries)
    for q in queries:
        alone = engine.search(videos, [q])[q.name]
        assert [(h.rank, h.recording, h.start, h.stop) for h in together[q.name]] == [
            (h.rank, h.recording, h.start, h.stop) for h in alone
        ]
        np.testing.assert_allclose([h.score for h in together[q.name]], [h.score for h in alone], atol=1e-6)


def test_prompt_ensembling_averages_the_phrasings(lvt, spm, tmp_path):
    engine = vpb.TextSearch(lvt, spm, cache=tmp_path)
    _, single = engine.encode(["two flies fighting", "animals fighting"])
    _, ensembled = engine.encode(["fight: two flies fighting | animals fighting"])
    mean = single.mean(0)
    np.testing.assert_allclose(ensembled[0], mean / np.linalg.norm(mean), atol=1e-6)
    assert np.linalg.norm(ensembled[0]) == pytest.approx(1.0, abs=1e-6)


def test_the_trace_is_the_mean_over_the_clips_covering_each_frame(lvt, spm, videos, tmp_path, config):
    rec = vpb.load(videos).recordings[0]
    engine = vpb.TextSearch(lvt, spm, config, cache=tmp_path)
    trace = engine.trace(rec, ["grooming", "fighting"])
    assert trace.shape == (rec.n_frames, 2) and np.isfinite(trace).all()
    clips = engine.embed(rec)
    sims = clips.similarity(engine.encode(["grooming", "fighting"])[1])
    for t in (0, 1, 2, 17, 39):
        covering = (clips.start <= t) & (t < clips.stop)
        np.testing.assert_allclose(trace[t], sims[covering].mean(0), atol=1e-6)
    assert vpb.similarity_trace(rec, ["grooming"], engine)[:, 0] == pytest.approx(trace[:, 0])


def test_a_bad_video_is_reported_and_the_others_are_searched(lvt, spm, videos, tmp_path, config):
    folder = tmp_path / "data"
    shutil.copytree(videos, folder)
    good = (folder / "synthetic_01.mp4").read_bytes()
    (folder / "synthetic_01.mp4").write_bytes(good[: len(good) // 3])  # truncated: loads with its usable frames
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))  # not a decodable video
    with pytest.warns(UserWarning, match="truncated"):
        results = vpb.search(folder, ["grooming"], lvt, tokenizer=spm, config=config, cache=tmp_path / "clips")
    assert results.recordings == ["synthetic_00", "synthetic_01"]
    (broken,) = [(name, why) for name, why in results.failures if name.endswith("broken.mp4")]
    assert "broken.mp4" in broken[1]  # the reason names the file
    # the truncated video's pose and label files no longer fit its usable frames: reported too
    assert all("synthetic_01" in name for name, _ in results.failures if name != broken[0])
    usable = results.n_frames["synthetic_01"]
    assert 0 < usable < 40 and all(h.stop <= usable for h in results["grooming"] if h.recording == "synthetic_01")
    files = results.write(tmp_path / "out")
    with open(files["failures"]) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(results.failures) and {r["stage"] for r in rows} == {"search"}
    assert not list((tmp_path / "clips").glob("*.partial"))  # nothing half-written is left behind


def test_results_files(lvt, spm, videos, tmp_path, config):
    results = vpb.search(videos, ["grooming", "fighting"], lvt, tokenizer=spm, config=config, cache=tmp_path / "c")
    files = results.write(tmp_path / "out", labels=True)
    with open(files["csv"]) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(results.hits) == 10
    first = results.hits[0]
    assert rows[0]["recording"] == first.recording and int(rows[0]["end_frame"]) == first.stop - 1
    assert float(rows[0]["start_s"]) == pytest.approx(first.start / 8)
    saved = json.loads(files["json"].read_text())
    assert saved["hits"] == json.loads(json.dumps(results.rows())) and saved["settings"]["clip_length"] == 4
    page = files["html"].read_text()
    assert page.count("<img") == 10 and "fighting" in page
    strips = sorted((tmp_path / "out" / "thumbnails").glob("*.jpg"))
    assert len(strips) == 10
    import cv2

    strip = cv2.imread(str(strips[0]))
    assert strip.shape[0] == 96 and strip.shape[1] > 3 * 96  # four frames side by side
    # candidates: hit frames labelled with their query, everything else not annotated
    from vpbehavior.io.labels_file import load_labels

    for rec in {h.recording for h in results.hits}:
        (path,) = (tmp_path / "out" / "candidates").glob(f"{rec}*.behavior.json")
        labels = load_labels(path)
        assert labels.classes == ("grooming", "fighting")
        in_hits = np.zeros(labels.n_frames, bool)
        for h in results.hits:
            if h.recording == rec:
                in_hits[h.start : h.stop] = True
                assert (labels.values[h.start : h.stop, 0, labels.classes.index(h.query)] == 1).all()
        assert (labels.values[~in_hits] == -1).all() and (labels.values[in_hits] >= 0).all()


def test_mistakes_are_one_clear_error(lvt, spm, tmp_path):
    from vpbehavior.models import build_model

    with pytest.raises(vpb.ConfigError, match="no text tower"):
        vpb.TextSearch(build_model("tiny", seed=0), spm)
    with pytest.raises(vpb.ConfigError, match="--tokenizer"):
        vpb.TextSearch(lvt, None)
    with pytest.raises(FileNotFoundError, match="SentencePiece model not found"):
        vpb.TextSearch(lvt, tmp_path / "missing.model")
    from vpbehavior.testing.tokenizer import train_sentencepiece

    words = [f"w{i}" for i in range(200)]
    big = train_sentencepiece([" ".join(words[i:] + words[:i]) for i in range(200)], tmp_path / "big", vocab_size=150)
    with pytest.raises(vpb.ConfigError, match="150 pieces but the model's text tower only 64"):
        vpb.TextSearch(lvt, big)
    engine = vpb.TextSearch(lvt, spm, cache=tmp_path)
    with pytest.raises(vpb.ConfigError, match="two queries are named"):
        engine.encode(["grooming", "Grooming"])
    with pytest.raises(vpb.ConfigError, match="at least two behaviors"):
        engine.behavior_queries(["grooming"])
    bad = tmp_path / "q.txt"
    bad.write_text("grooming\nfight: a | \n: x\n")
    with pytest.raises(vpb.DataError, match=r"q.txt.*line 3"):
        vpb.read_query_file(bad)
    broken = tmp_path / "q.json"
    broken.write_text('{"grooming": ["a mouse grooming"')
    with pytest.raises(vpb.DataError, match=r"q.json.*invalid JSON"):
        vpb.read_query_file(broken)
