# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""qdrant-client (REST) against the server: every answer equals the embedded
database's on the same data (same ids in the same order; Euclid scores are the
square roots of the embedded squared L2)."""

from __future__ import annotations

import hashlib
import math
import uuid

import numpy as np
import pytest

qdrant_client = pytest.importorskip("qdrant_client", reason="needs qdrant-client")
httpx = pytest.importorskip("httpx")
from qdrant_client import QdrantClient, models  # noqa: E402

DIM = 8
N = 300
COLORS = ("red", "green", "blue")


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, DIM)).astype(np.float32)
    pays = [{"color": COLORS[i % 3], "n": i, "tag": f"t{i % 5}"} for i in range(N)]
    return X, pays


@pytest.fixture(scope="module")
def qc(served):
    client = QdrantClient(url=served.url, prefer_grpc=False, timeout=30, check_compatibility=False)
    yield client
    client.close()


RED = models.Filter(must=[models.FieldCondition(key="color", match=models.MatchValue(value="red"))])
RED_JSON = {"must": [{"key": "color", "match": {"value": "red"}}]}


def _setup(qc, name, distance):
    X, pays = _data()
    qc.create_collection(name, vectors_config=models.VectorParams(size=DIM, distance=distance))
    qc.create_payload_index(name, "color", models.PayloadSchemaType.KEYWORD)
    qc.create_payload_index(name, "n", models.PayloadSchemaType.INTEGER)
    half = N // 2
    qc.upsert(name, points=models.Batch(ids=list(range(half)), vectors=X[:half].tolist(),
                                        payloads=pays[:half]), wait=True)
    qc.upsert(name, points=[models.PointStruct(id=i, vector=X[i].tolist(), payload=pays[i])
                            for i in range(half, N)], wait=True)
    return X, pays


def _qscore(metric, s):
    return math.sqrt(max(s, 0.0)) if metric == "l2" else s


@pytest.mark.parametrize("distance,metric", [(models.Distance.EUCLID, "l2"),
                                             (models.Distance.COSINE, "cosine"),
                                             (models.Distance.DOT, "ip")])
def test_search_query_and_recommend_equal_embedded(served, qc, distance, metric):
    name = f"s_{metric}"
    X, pays = _setup(qc, name, distance)
    col = served.db.get_collection(name)
    assert col.metric == metric and col.count() == N
    q = np.random.default_rng(7).standard_normal(DIM).astype(np.float32)

    res = qc.query_points(name, query=q.tolist(), query_filter=RED, limit=10,
                          with_payload=True).points
    emb = col.search(q, k=10, filter=RED_JSON)
    assert [p.id for p in res] == [h.id for h in emb] and len(res) == 10
    assert all(p.payload == pays[p.id] and p.payload["color"] == "red" for p in res)
    np.testing.assert_allclose([p.score for p in res],
                               [_qscore(metric, h.score) for h in emb], rtol=1e-6)

    # offset and a threshold between the 3rd and 4th score
    all10 = col.search(q, k=10)
    thr = (_qscore(metric, all10[5].score) + _qscore(metric, all10[6].score)) / 2
    res = qc.query_points(name, query=q.tolist(), limit=5, offset=2, score_threshold=thr,
                          with_payload=False).points
    assert [p.id for p in res] == [h.id for h in all10[2:6]]
    assert all(p.payload is None for p in res)

    # the raw search endpoint and search/batch
    with httpx.Client(base_url=served.url) as h:
        r = h.post(f"/collections/{name}/points/search",
                   json={"vector": q.tolist(), "limit": 7, "filter": RED_JSON,
                         "with_vector": True})
        assert r.status_code == 200
        got = r.json()["result"]
        ref = col.search(q, k=7, filter=RED_JSON)
        assert [p["id"] for p in got] == [h.id for h in ref]
        np.testing.assert_array_equal(np.array([p["vector"] for p in got], np.float32),
                                      X[[h.id for h in ref]])
        Q = np.random.default_rng(8).standard_normal((3, DIM)).astype(np.float32)
        r = h.post(f"/collections/{name}/points/search/batch",
                   json={"searches": [{"vector": v.tolist(), "limit": 4} for v in Q]})
        assert [[p["id"] for p in row] for row in r.json()["result"]] == \
            [[x.id for x in col.search(v, k=4)] for v in Q]

        # recommend (average_vector: 2 * mean(positive) - mean(negative))
        V = X[[1, 2, 3]].astype(np.float64)
        if metric == "cosine":
            V /= np.linalg.norm(V, axis=1, keepdims=True)
        target = (2 * V[:2].mean(0) - V[2]).astype(np.float32)
        ref = [x.id for x in col.search(target, k=8) if x.id not in (1, 2, 3)][:5]
        r = h.post(f"/collections/{name}/points/recommend",
                   json={"positive": [1, 2], "negative": [3], "limit": 5})
        assert [p["id"] for p in r.json()["result"]] == ref
    res = qc.query_points(name, query=models.RecommendQuery(recommend=models.RecommendInput(
        positive=[1, 2], negative=[3])), limit=5).points
    assert [p.id for p in res] == ref

    # nearest to a stored point: the point itself is left out
    res = qc.query_points(name, query=5, limit=4).points
    assert [p.id for p in res] == [x.id for x in col.search(X[5], k=5) if x.id != 5][:4]

    batch = qc.query_batch_points(name, requests=[
        models.QueryRequest(query=X[i].tolist(), limit=3, filter=RED) for i in (0, 1)])
    assert [[p.id for p in b.points] for b in batch] == \
        [[x.id for x in col.search(X[i], k=3, filter=RED_JSON)] for i in (0, 1)]


def test_collection_endpoints(served, qc):
    X, _ = _setup(qc, "info", models.Distance.EUCLID)
    assert qc.collection_exists("info") and not qc.collection_exists("nope")
    assert "info" in [c.name for c in qc.get_collections().collections]
    info = qc.get_collection("info")
    assert info.points_count == N
    assert info.config.params.vectors.size == DIM
    assert info.config.params.vectors.distance == models.Distance.EUCLID
    assert info.payload_schema["color"].data_type == models.PayloadSchemaType.KEYWORD
    assert info.payload_schema["n"].data_type == models.PayloadSchemaType.INTEGER
    assert info.payload_schema["n"].points == N
    assert info.status in (models.CollectionStatus.GREEN, models.CollectionStatus.YELLOW)
    assert qc.delete_collection("info") is True
    assert not qc.collection_exists("info") and "info" not in served.db.list_collections()
    assert qc.delete_collection("info") is False  # as Qdrant: false, not an error


def test_points_crud_scroll_count_payload(served, qc):
    X, pays = _setup(qc, "crud", models.Distance.EUCLID)
    col = served.db.get_collection("crud")

    # scroll pages in id order, with next_page_offset
    seen, offset, pages = [], None, 0
    while True:
        pts, offset = qc.scroll("crud", limit=70, offset=offset, with_payload=False)
        seen += [p.id for p in pts]
        pages += 1
        if offset is None:
            break
    assert seen == list(range(N)) and pages == 5
    pts, nxt = qc.scroll("crud", scroll_filter=RED, limit=10, offset=30, with_vectors=True)
    assert [p.id for p in pts] == list(range(30, 60, 3)) and nxt == 60
    np.testing.assert_array_equal(np.array([p.vector for p in pts], np.float32), X[30:60:3])

    assert qc.count("crud").count == N
    assert qc.count("crud", count_filter=RED).count == col.count(RED_JSON) == N // 3
    rng_f = models.Filter(must=[models.FieldCondition(key="n", range=models.Range(gte=10, lt=20))])
    assert qc.count("crud", count_filter=rng_f).count == 10

    recs = qc.retrieve("crud", ids=[4, 999, 2], with_vectors=True)
    assert sorted(r.id for r in recs) == [2, 4]
    for r in recs:
        np.testing.assert_array_equal(np.float32(r.vector), X[r.id])
        assert r.payload == pays[r.id]
    # payload selectors: a list of keys, include, exclude
    assert qc.retrieve("crud", ids=[4], with_payload=["color"])[0].payload == {"color": "green"}
    res = qc.query_points("crud", query=X[4].tolist(), limit=1, with_vectors=True,
                          with_payload=models.PayloadSelectorExclude(exclude=["n", "tag"]))
    assert res.points[0].payload == {"color": pays[4]["color"]}
    np.testing.assert_array_equal(np.float32(res.points[0].vector), X[4])
    pts, _ = qc.scroll("crud", limit=2, with_payload=models.PayloadSelectorInclude(include=["n"]))
    assert [p.payload for p in pts] == [{"n": 0}, {"n": 1}]
    with httpx.Client(base_url=served.url) as h:
        r = h.get("/collections/crud/points/7")
        assert r.status_code == 200 and r.json()["result"]["payload"] == pays[7]
        assert h.get("/collections/crud/points/100000").status_code == 404

    # payload updates
    qc.set_payload("crud", payload={"extra": 1, "color": "red"}, points=[1, 2])
    assert col.get([1])[0].payload == {**pays[1], "extra": 1, "color": "red"}
    assert col.count(RED_JSON) == N // 3 + 2
    qc.overwrite_payload("crud", payload={"only": True}, points=[1])
    assert col.get([1])[0].payload == {"only": True}
    qc.delete_payload("crud", keys=["extra", "tag"], points=[2])
    assert col.get([2])[0].payload == {"color": "red", "n": 2}
    qc.clear_payload("crud", points_selector=models.PointIdsList(points=[2]))
    assert col.get([2])[0].payload == {}
    np.testing.assert_array_equal(col.get([2])[0].vector, X[2])  # vectors kept
    qc.set_payload("crud", payload={"flag": "x"},
                   points=models.Filter(must=[models.FieldCondition(
                       key="n", range=models.Range(gte=290))]))
    assert [r.payload.get("flag") for r in col.get(list(range(288, 300)))] == \
        [None, None] + ["x"] * 10

    # deletes by ids and by filter
    qc.delete("crud", points_selector=models.PointIdsList(points=[0, 3, 6]))
    assert col.count() == N - 3 and col.get([0])[0] is None
    qc.delete("crud", points_selector=models.FilterSelector(filter=RED))
    assert col.count(RED_JSON) == 0
    # the red points (i % 3 == 0, 0 3 6 among them) are gone; 1 and 2 are red no more
    assert qc.count("crud").count == col.count() == N - N // 3

    # UUID ids, normalized as Qdrant returns them
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    qc.upsert("crud", points=[models.PointStruct(id=str(u).upper(), vector=X[0].tolist(),
                                                 payload={"color": "green"})])
    recs = qc.retrieve("crud", ids=[str(u)])
    assert [r.id for r in recs] == [str(u)]
    res = qc.query_points("crud", query=X[0].tolist(), limit=1).points
    assert res[0].id == str(u) and res[0].score == 0.0


def test_snapshots(served, qc, tmp_path):
    X, _ = _setup(qc, "snap", models.Distance.COSINE)
    col = served.db.get_collection("snap")
    desc = qc.create_snapshot("snap")
    assert desc.name.endswith(".snapshot") and desc.size > 0
    assert desc.name in [s.name for s in qc.list_snapshots("snap")]
    with httpx.Client(base_url=served.url) as h:
        r = h.get(f"/collections/snap/snapshots/{desc.name}")
        assert r.status_code == 200 and len(r.content) == desc.size
        assert hashlib.sha256(r.content).hexdigest() == desc.checksum
        assert h.get("/collections/snap/snapshots/..%2Fx.snapshot").status_code == 404
    local = tmp_path / desc.name
    local.write_bytes(r.content)
    qc.upsert("snap", points=[models.PointStruct(id=N + 1, vector=X[0].tolist())])
    assert qc.recover_snapshot("restored", location=local.as_uri())
    rest = served.db.get_collection("restored")
    assert rest.count() == N and col.count() == N + 1
    q = X[11]
    got, ref = rest.search(q, k=10), [h for h in col.search(q, k=11) if h.id != N + 1][:10]
    assert [h.id for h in got] == [h.id for h in ref]
    np.testing.assert_allclose([h.score for h in got], [h.score for h in ref], rtol=1e-6)
    # recovering over an existing collection replaces it
    assert qc.recover_snapshot("snap", location=local.as_uri())
    assert served.db.get_collection("snap").count() == N


def test_batches_mix_limits_filters_and_kinds_in_request_order(served, qc):
    """A batch whose requests differ in limit, offset, filter, ef, threshold and
    selectors is answered in request order, each answer equal to the same request
    sent alone; requests sharing limit and filter run as one batch search (the batch
    size histogram of /metrics counts them together)."""
    name = "mixbatch"
    X, pays = _setup(qc, name, models.Distance.EUCLID)
    col = served.db.get_collection(name)
    Q = np.random.default_rng(11).standard_normal((9, DIM)).astype(np.float32)
    reqs = [{"vector": Q[0].tolist(), "limit": 4},
            {"vector": Q[1].tolist(), "limit": 4, "filter": RED_JSON, "with_payload": True},
            {"vector": Q[2].tolist(), "limit": 4},
            {"vector": Q[3].tolist(), "limit": 2, "offset": 1, "with_vector": True},
            {"vector": Q[4].tolist(), "limit": 4, "filter": RED_JSON},
            {"vector": Q[5].tolist(), "limit": 4, "params": {"hnsw_ef": 200}},
            {"vector": Q[6].tolist(), "limit": 4, "with_payload": ["n"]},
            {"vector": Q[7].tolist(), "limit": 4,
             "filter": {"must": [{"match": {"value": "red"}, "key": "color"}]}},
            {"vector": Q[8].tolist(), "limit": 4}]

    def hist_count(h):
        text = h.get("/metrics").text
        line = [x for x in text.splitlines()
                if x.startswith("warpsearch_search_batch_size_count")]
        return float(line[0].split()[-1]) if line else 0.0

    with httpx.Client(base_url=served.url) as h:
        before = hist_count(h)
        r = h.post(f"/collections/{name}/points/search/batch", json={"searches": reqs})
        assert r.status_code == 200, r.text
        got = r.json()["result"]
        # groups: limit 4 no filter ef default (0, 2, 6, 8), limit 4 red (1, 4, 7: the
        # same filter with its keys in another order), limit 2 offset 1, ef 200
        assert hist_count(h) - before == 4
        alone = [h.post(f"/collections/{name}/points/search", json=q).json()["result"]
                 for q in reqs]
    assert got == alone
    assert [p["id"] for p in got[0]] == [x.id for x in col.search(Q[0], k=4)]
    assert all(p["payload"]["color"] == "red" for p in got[1])
    assert got[6][0]["payload"] == {"n": pays[got[6][0]["id"]]["n"]}
    assert got[3][0]["vector"] == X[got[3][0]["id"]].tolist() and len(got[3]) == 2
    # a bad request anywhere in the batch: 400, nothing answered
    bad = reqs[:2] + [{"vector": [1.0] * (DIM + 1), "limit": 4}]
    with httpx.Client(base_url=served.url) as h:
        r = h.post(f"/collections/{name}/points/search/batch", json={"searches": bad})
    assert r.status_code == 400 and str(DIM) in r.json()["status"]["error"]


@pytest.mark.parametrize("distance,uuids", [(models.Distance.EUCLID, False),
                                             (models.Distance.COSINE, True),
                                             (models.Distance.DOT, False)])
def test_batch_of_ids_and_scores_equals_single_searches(served, qc, distance, uuids):
    """A group of batch requests asking for ids and scores only is answered from the
    batch's arrays: each answer (offset, limit shorter than the hits found, score
    threshold, more hits asked than a filter lets through; int and UUID ids) equals
    the same request sent alone, which builds its answer hit by hit (with int ids the
    batch's answers are written as JSON text in one call)."""
    name = f"arrbatch_{distance.value.lower()}"
    X, pays = _data(3)
    qc.create_collection(name, vectors_config=models.VectorParams(size=DIM, distance=distance))
    qc.create_payload_index(name, "color", models.PayloadSchemaType.KEYWORD)
    qc.create_payload_index(name, "n", models.PayloadSchemaType.INTEGER)
    ids = [i if i % 2 or not uuids else str(uuid.UUID(int=i + 1)) for i in range(N)]
    qc.upsert(name, points=models.Batch(ids=ids, vectors=X.tolist(), payloads=pays), wait=True)
    col = served.db.get_collection(name)
    Q = np.random.default_rng(12).standard_normal((6, DIM)).astype(np.float32)
    first = [_qscore(col.metric, h.score) for h in col.search(Q[4], k=8)]
    thr = (first[2] + first[3]) / 2
    one_red = {"must": [{"key": "color", "match": {"value": "red"}},
                        {"key": "n", "range": {"lt": 6}}]}  # two points pass
    reqs = [{"vector": Q[0].tolist(), "limit": 8},
            {"vector": Q[1].tolist(), "limit": 5, "offset": 3},
            {"vector": Q[2].tolist(), "limit": 8},
            {"vector": Q[3].tolist(), "limit": 2, "offset": 6},
            {"vector": Q[4].tolist(), "limit": 8, "score_threshold": thr},
            {"vector": Q[5].tolist(), "limit": 8, "filter": one_red},
            {"vector": Q[0].tolist(), "limit": 6, "offset": 2, "filter": one_red}]
    with httpx.Client(base_url=served.url) as h:
        r = h.post(f"/collections/{name}/points/search/batch", json={"searches": reqs})
        assert r.status_code == 200, r.text
        got = r.json()["result"]
        alone = [h.post(f"/collections/{name}/points/search", json=q).json()["result"]
                 for q in reqs]
    assert got == alone
    assert [len(a) for a in got] == [8, 5, 8, 2, 3, 2, 0]
    assert {type(p["id"]) for a in got for p in a} == ({int, str} if uuids else {int})
    assert [p["id"] for p in got[0]] == [x.id for x in col.search(Q[0], k=8)]
    assert all(p["payload"] is None and p["vector"] is None for a in got for p in a)


def test_batch_vectors_are_checked_like_single_ones(served, qc):
    """A search batch converts its vectors at once, and refuses what a single search
    refuses (a bool, a wrong length, a nested list), naming the problem."""
    name = "batchcheck"
    _setup(qc, name, models.Distance.DOT)
    good = [0.5] * DIM
    with httpx.Client(base_url=served.url) as h:
        for bad, msg in (([True] + [0.5] * (DIM - 1), "list of numbers"),
                         ([0.5] * (DIM - 1), "dimension"),
                         ([[0.5]] * DIM, "list of numbers")):
            body = {"searches": [{"vector": good, "limit": 2}, {"vector": bad, "limit": 2}]}
            r = h.post(f"/collections/{name}/points/search/batch", json=body)
            assert r.status_code == 400 and msg in r.json()["status"]["error"], r.text
            r = h.post(f"/collections/{name}/points/search", json={"vector": bad})
            assert r.status_code == 400 and msg in r.json()["status"]["error"], r.text


def test_a_named_vector_is_the_collections_one_vector(qc, served):
    """Collections created with one named dense vector (LangChain's "", LlamaIndex's
    "text-dense"): points upserted, searched and returned under that name."""
    X, pays = _data(3)
    qc.create_collection("named", vectors_config={"text-dense": models.VectorParams(
        size=DIM, distance=models.Distance.COSINE)})
    qc.upsert("named", points=[models.PointStruct(id=i, vector={"text-dense": X[i].tolist()},
                                                  payload=pays[i]) for i in range(len(X))])
    col = served.db.get_collection("named")
    assert col.count() == len(X) and col.metric == "cosine"
    want = [h.id for h in col.search(X[5], k=5)]
    got = qc.query_points("named", query=X[5].tolist(), using="text-dense", limit=5,
                          with_vectors=["text-dense"]).points
    assert [p.id for p in got] == want
    assert np.allclose(got[0].vector["text-dense"], X[want[0]], atol=1e-6)
    got = qc.query_points("named", query=X[5].tolist(), limit=5, with_vectors=True).points
    assert [p.id for p in got] == want and np.allclose(got[0].vector, X[want[0]], atol=1e-6)
    rec = qc.retrieve("named", ids=[7], with_vectors=["text-dense"])[0]
    assert np.allclose(rec.vector["text-dense"], X[7], atol=1e-6)
    with pytest.raises(Exception, match="sparse"):
        qc.upsert("named", points=[models.PointStruct(id=1, vector={
            "s": models.SparseVector(indices=[0], values=[1.0])})])
    with pytest.raises(Exception, match="one dense vector"):
        qc.create_collection("two", vectors_config={
            "a": models.VectorParams(size=2, distance=models.Distance.DOT),
            "b": models.VectorParams(size=2, distance=models.Distance.DOT)})
    assert not served.db.has_collection("two")


def test_filters_on_keys_without_an_index_read_the_payloads(qc, served):
    """Qdrant filters any payload key, nested ones as "a.b": keys without a payload
    index are read from each point's payload, with the same answers as an index."""
    qc.create_collection("meta", vectors_config=models.VectorParams(
        size=DIM, distance=models.Distance.EUCLID))
    X, _ = _data(4)
    pays = [{"metadata": {"source": "ab"[i % 2], "page": i}, "kind": "kc"[i % 2]}
            for i in range(len(X))]
    qc.upsert("meta", points=[models.PointStruct(id=i, vector=X[i].tolist(), payload=pays[i])
                              for i in range(len(X))])
    src_a = models.Filter(must=[models.FieldCondition(
        key="metadata.source", match=models.MatchValue(value="a"))])
    got = qc.query_points("meta", query=X[0].tolist(), limit=10, query_filter=src_a).points
    assert len(got) == 10 and all(pays[p.id]["metadata"]["source"] == "a" for p in got)
    assert qc.count("meta", count_filter=src_a).count == sum(
        p["metadata"]["source"] == "a" for p in pays)
    pages = models.Filter(must=[models.FieldCondition(key="metadata.page",
                                                      range=models.Range(gte=10, lt=20))])
    ids = sorted(p.id for p in qc.scroll("meta", scroll_filter=pages, limit=100)[0])
    assert ids == list(range(10, 20))
    # the same answers once the key is indexed
    unindexed = [p.id for p in qc.query_points(
        "meta", query=X[1].tolist(), limit=15, query_filter=models.Filter(must=[
            models.FieldCondition(key="kind", match=models.MatchValue(value="c"))])).points]
    qc.create_payload_index("meta", field_name="kind", field_schema="keyword")
    indexed = [p.id for p in qc.query_points(
        "meta", query=X[1].tolist(), limit=15, query_filter=models.Filter(must=[
            models.FieldCondition(key="kind", match=models.MatchValue(value="c"))])).points]
    assert unindexed == indexed and len(indexed) == 15
    by_id = models.Filter(must=[models.HasIdCondition(has_id=[3, 4, 5, 999])])
    assert sorted(p.id for p in qc.scroll("meta", scroll_filter=by_id, limit=10)[0]) == [3, 4, 5]
    qc.delete("meta", points_selector=models.FilterSelector(filter=src_a))
    assert qc.count("meta").count == sum(p["metadata"]["source"] == "b" for p in pays)


def test_maximal_marginal_relevance(qc, served):
    """query nearest + mmr: diversity 0 is the plain nearest order; with diversity the
    first point is still the nearest, every point comes from the candidates, and
    near-duplicates give way."""
    qc.create_collection("mmr", vectors_config=models.VectorParams(
        size=DIM, distance=models.Distance.COSINE))
    rng = np.random.default_rng(9)
    base = rng.standard_normal((5, DIM)).astype(np.float32)
    X = np.concatenate([base[0] + 0.001 * rng.standard_normal((6, DIM)),  # near-duplicates
                        base[1:]]).astype(np.float32)
    qc.upsert("mmr", points=[models.PointStruct(id=i, vector=X[i].tolist())
                             for i in range(len(X))])
    q = (base[0] + 0.3 * base[1]).tolist()
    plain = [p.id for p in qc.query_points("mmr", query=q, limit=4).points]
    none = [p.id for p in qc.query_points("mmr", query=models.NearestQuery(
        nearest=q, mmr=models.Mmr(diversity=0.0, candidates_limit=10)), limit=4).points]
    assert none == plain
    div = qc.query_points("mmr", query=models.NearestQuery(
        nearest=q, mmr=models.Mmr(diversity=0.9, candidates_limit=10)), limit=4).points
    ids = [p.id for p in div]
    assert ids[0] == plain[0] and len(set(ids)) == 4
    assert sum(i < 6 for i in ids) < sum(i < 6 for i in plain)  # fewer near-duplicates
    r = httpx.post(served.url + "/collections/mmr/points/query", json={
        "query": {"nearest": q, "mmr": {"diversity": 2}}, "limit": 3})
    assert r.status_code == 400 and "diversity" in r.text
