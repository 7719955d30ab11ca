# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The summary table of README.md and RESULTS.md, from the harness's JSON files:

    python benchmarks/summarize.py sift.json text.json
"""
import json
import sys


def main(paths):
    rows = ["| dataset | threads | warpsearch QPS @0.95 | hnswlib | faiss HNSW | usearch | vs hnswlib | build time vs hnswlib | exact: FlatIndex vs NumPy/BLAS |",
            "|---|---|---|---|---|---|---|---|---|"]
    for path in paths:
        d = json.load(open(path))
        name = d["meta"]["command"].split()[3].split("/")[-1].replace(".npz", "")
        for t in sorted({r["threads"] for r in d["runs"]}):
            runs = {r["engine"]: r for r in d["runs"] if r["threads"] == t}
            q = {e: (runs[e]["at_recall"]["0.95"] or {}).get("qps") for e in ("warpsearch", "hnswlib", "faiss", "usearch") if e in runs and "at_recall" in runs[e]}
            fmt = lambda v: "n/a" if v is None else f"{v:,.0f}"
            flat = runs.get("warpsearch-flat", {}).get("qps"); npy = runs.get("numpy", {}).get("qps")
            rows.append(f"| {name} | {t} | {fmt(q.get('warpsearch'))} | {fmt(q.get('hnswlib'))} | {fmt(q.get('faiss'))} | {fmt(q.get('usearch'))} | "
                        f"{q['warpsearch'] / q['hnswlib']:.2f}x | {runs['warpsearch']['build_s'] / runs['hnswlib']['build_s']:.2f}x "
                        f"({runs['warpsearch']['build_s']:.0f} s vs {runs['hnswlib']['build_s']:.0f} s) | "
                        f"{flat / npy:.2f}x ({flat:,.0f} vs {npy:,.0f} QPS) |")
    print("\n".join(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
