"""`vpbehavior search DATA "query" ... --tokenizer SPM --out OUT`: find moments by text with the LvT model.

    vpbehavior search experiment/ "a mouse grooming" "two mice fighting" --tokenizer c4_en.model --out found
    vpbehavior search experiment/ --query-file queries.txt --tokenizer c4_en.model --out found --labels
    vpbehavior search experiment/ grooming attack other --zero-shot --tokenizer c4_en.model --out zs
    vpbehavior evaluate experiment/ --predictions zs --out zs_report

Clip embeddings are cached (``--features``, default OUT/clips) and reused by every later query.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._flags import add_config_flags, add_loading_flags, config_from_args, load_data

#: Queries may also follow the options (`vpbehavior.cli` collects them).
TRAILING_POSITIONALS = "queries"

#: Files that mark a folder as an earlier search output (so a rerun may write into it).
MARKERS = ("hits.json", "zero_shot.json", "clips")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vpbehavior.api import DEFAULT_LVT_WEIGHTS, SearchConfig

    parser.add_argument("data", help="a dataset folder, lab folder, recording file or video")
    parser.add_argument(
        "queries", nargs="*", default=[],
        help='what to look for, one argument per query: "a mouse grooming", or "name: phrasing | phrasing" '
        "to average several phrasings (default: none, with --query-file)",
    )  # fmt: skip
    parser.add_argument(
        "--query-file", default=None, metavar="FILE",
        help="more queries: a text file with one query per line (# comments) or a JSON list / object (default: none)",
    )  # fmt: skip
    parser.add_argument("--out", required=True, help="output folder: hits.csv, hits.json, hits.html, thumbnails")
    parser.add_argument(
        "--weights", default=DEFAULT_LVT_WEIGHTS,
        help="video-text (LvT) weights: a released name, a .npz / .safetensors file or a hub repo id "
        f"(default: {DEFAULT_LVT_WEIGHTS})",
    )  # fmt: skip
    parser.add_argument(
        "--tokenizer", default=None, metavar="SPM.model",
        help="the text tower's SentencePiece model (c4_en for the released LvT models) (default: none; required)",
    )  # fmt: skip
    parser.add_argument(
        "--features", default=None,
        help="folder of cached clip embeddings, reused across queries and runs (default: OUT/clips)",
    )  # fmt: skip
    add_loading_flags(parser)
    parser.add_argument("--labels", action="store_true",
                        help="also write the hits as bouts in OUT/candidates/<recording>.behavior.json, to confirm in napari")  # fmt: skip
    parser.add_argument("--thumbnails", type=int, default=4, metavar="N",
                        help="frames in each hit's thumbnail strip in hits.html (0: none) (default: 4)")  # fmt: skip
    parser.add_argument(
        "--zero-shot", action="store_true",
        help="classify every frame instead: the queries are behaviors (2 or more); writes "
        "OUT/<recording>.predictions.h5 like `vpbehavior score` (default: off)",
    )  # fmt: skip
    parser.add_argument("--no-templates", action="store_true",
                        help="zero-shot: embed the behaviors as given, not through the prompt templates (default: off)")  # fmt: skip
    parser.add_argument("--force", action="store_true", help="write into --out even if it holds other files")
    add_config_flags(parser.add_argument_group("clips and ranking"), SearchConfig)


def main(args: argparse.Namespace) -> int:
    import vpbehavior as vpb
    from vpbehavior._outputs import check_output_folder

    queries = list(args.queries)
    if args.query_file:
        queries += vpb.read_query_file(args.query_file)
    if not queries:
        raise vpb.ConfigError('search needs at least one query: vpbehavior search DATA "a mouse grooming" ... '
                              "or --query-file FILE")  # fmt: skip
    queries = [q if isinstance(q, vpb.Query) else vpb.Query.parse(q) for q in queries]
    out = check_output_folder(args.out, "search output", MARKERS, args.force)
    config = config_from_args(vpb.SearchConfig, args)
    cache = Path(args.features) if args.features else out / "clips"
    dataset = load_data(args)
    engine = vpb.TextSearch(args.weights, args.tokenizer, config, cache=cache)
    c = engine.config
    print(f"model {engine.identity['model']} on {c.device}: clips of {c.clip_length} frames every {c.stride} at "
          f"{c.size} px; clip embeddings cached in {cache}")  # fmt: skip
    if args.zero_shot:
        return _zero_shot(vpb, engine, dataset, queries, out, args)
    results = engine.search(dataset, queries, progress=True)
    files = results.write(out, thumbnails=args.thumbnails, labels=args.labels)
    for query in results.queries:
        print(f"\n{query.name}")
        for hit in results[query.name]:
            when = "" if hit.start_s is None else f"  {hit.start_s:8.2f}-{hit.end_s:.2f} s"
            print(f"  {hit.rank:3d}  {hit.score:+.4f}  {hit.recording}  frames {hit.start}-{hit.stop - 1}{when}")
    for name, why in results.failures:
        print(f"not searched: {name}: {why}")
    print(f"\n{len(results.recordings)} recording(s) searched; hits: {files['csv']}, {files['html']}")
    if "candidates" in files:
        print(f"candidate bouts (open with the video in napari): {files['candidates']}")
    return 1 if results.failures else 0


def _zero_shot(vpb, engine, dataset, queries, out: Path, args) -> int:
    templates = None if args.no_templates else vpb.DEFAULT_TEMPLATES
    preds, failures = vpb.zero_shot(dataset, queries, engine, out=out, templates=templates, progress=True)
    for p in preds:
        share = p.calls[:, 0].mean(0)
        print(f"{p.recording}: " + ", ".join(f"{c} {s:.0%}" for c, s in zip(p.classes, share)))
    for name, why in failures:
        print(f"failed: {name}: {why}")
    print(f"\npredictions of {len(preds)} recording(s) in {out}; evaluate them against labels with\n"
          f"  vpbehavior evaluate {args.data} --predictions {out} --out {out / 'report'}")  # fmt: skip
    return 1 if failures else 0
