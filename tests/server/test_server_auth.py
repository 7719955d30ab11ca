# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""API keys: the keys command, 401 / 403 per role, keyless loopback-only serving,
the clients sending keys, and https with a self-signed certificate."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import ssl
import subprocess
import threading
import time
import warnings

import pytest

import warpsearch as ws
from warpsearch import cli

from .conftest import start_server

httpx = pytest.importorskip("httpx", reason="needs the server extra")
pytest.importorskip("fastapi", reason="needs the server extra")


def _create(capsys, path, *extra):
    assert cli.main(["keys", "create", "--path", str(path), *extra]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    return out[-1], out[:-1]


def test_keys_command_round_trip(tmp_path, capsys):
    key, head = _create(capsys, tmp_path, "--role", "write", "--tenant", "acme",
                        "--collections", "a,b", "--rate", "5/s", "--max-points", "100")
    assert key.startswith("ws_") and len(key) > 40 and not any(key in line for line in head)
    key2, _ = _create(capsys, tmp_path, "--role", "read")
    text = (tmp_path / "api_keys.json").read_text()
    assert key not in text and key2 not in text and key.split("_", 2)[2] not in text
    recs = json.loads(text)["keys"]
    assert sorted(r["hash"] for r in recs) == sorted(
        hashlib.sha256(k.encode()).hexdigest() for k in (key, key2))
    assert os.stat(tmp_path / "api_keys.json").st_mode & 0o077 == 0
    kid = key.split("_")[1]
    rec = next(r for r in recs if r["id"] == kid)
    assert (rec["role"], rec["tenant"], rec["collections"]) == ("write", "acme", ["a", "b"])
    assert rec["limits"] == {"rate": 5.0, "max_points": 100}

    assert cli.main(["keys", "list", "--path", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    assert kid in listing and "acme" in listing and "max-points=100" in listing
    assert key not in listing and key2 not in listing and rec["hash"] not in listing
    assert cli.main(["keys", "list", "--path", str(tmp_path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {r["id"] for r in shown} == {kid, key2.split("_")[1]}
    assert all("hash" not in r for r in shown)

    assert cli.main(["keys", "revoke", "--path", str(tmp_path), kid]) == 0
    capsys.readouterr()
    assert cli.main(["keys", "list", "--path", str(tmp_path), "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [key2.split("_")[1]]
    assert cli.main(["keys", "revoke", "--path", str(tmp_path), kid]) == 1
    assert "no API key with id" in capsys.readouterr().err
    # another file with --api-keys; bad input is a message and status 1 or 2
    other = tmp_path / "elsewhere.json"
    _create(capsys, tmp_path, "--role", "admin", "--api-keys", str(other))
    assert len(json.loads(other.read_text())["keys"]) == 1
    assert cli.main(["keys", "create", "--path", str(tmp_path), "--role", "read",
                     "--tenant", "bad name!"]) == 1
    assert "tenant must be" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli.main(["keys", "create", "--path", str(tmp_path), "--role", "root"])
    assert e.value.code == 2


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    from warpsearch.server import Settings, create_app
    from warpsearch.server.auth import KeyStore

    db = ws.connect(tmp_path_factory.mktemp("auth") / "db", fsync="never")
    store = KeyStore(os.path.join(db.path, "api_keys.json"))
    keys = {role: store.create(role)[1] for role in ("read", "write", "admin")}
    keys["only_a"] = store.create("write", collections=["a"])[1]
    server, thread, url = start_server(create_app(db, Settings(threads=2)))
    try:
        yield url, keys, store
    finally:
        server.should_exit = True
        thread.join(30)


def _status(client, method, path, key=None, bearer=False, **kw):
    headers = {} if key is None else (
        {"authorization": f"Bearer {key}"} if bearer else {"api-key": key})
    return client.request(method, path, headers=headers, **kw)


def test_roles(keyed):
    url, keys, store = keyed
    body = {"vectors": {"size": 2, "distance": "Dot"}}
    with httpx.Client(base_url=url) as c:
        assert c.get("/healthz").status_code == 200  # public
        r = _status(c, "GET", "/collections")
        assert r.status_code == 401 and "API key" in r.json()["status"]["error"]
        assert _status(c, "GET", "/collections", "ws_000000000000_nope").status_code == 401
        assert _status(c, "GET", "/collections", keys["read"] + "x").status_code == 401
        assert _status(c, "PUT", "/collections/a", keys["read"], json=body).status_code == 403
        assert _status(c, "PUT", "/collections/a", keys["write"], json=body).status_code == 200
        assert _status(c, "PUT", "/collections/b", keys["admin"], bearer=True,
                       json=body).status_code == 200
        pts = {"points": [{"id": 1, "vector": [1, 0]}]}
        assert _status(c, "PUT", "/collections/a/points", keys["read"],
                       json=pts).status_code == 403
        assert _status(c, "PUT", "/collections/a/points", keys["write"], bearer=True,
                       json=pts).status_code == 200
        q = {"vector": [1, 0]}
        r = _status(c, "POST", "/collections/a/points/search", keys["read"], json=q)
        assert r.status_code == 200 and r.json()["result"][0]["id"] == 1
        for method, path in [("POST", "/collections/a/snapshots"),
                             ("GET", "/warpsearch/usage"),
                             ("PUT", "/collections/a/snapshots/recover")]:
            assert _status(c, method, path, keys["write"], json={}).status_code == 403, path
        assert _status(c, "GET", "/warpsearch/usage", keys["admin"]).status_code == 200
        # a key limited to collection a
        assert _status(c, "GET", "/collections/b", keys["only_a"]).status_code == 403
        assert _status(c, "GET", "/collections/a", keys["only_a"]).status_code == 200
        names = [x["name"] for x in _status(c, "GET", "/collections",
                                            keys["only_a"]).json()["result"]["collections"]]
        assert names == ["a"]
        # revoking takes effect on the running server
        rid = keys["read"].split("_")[1]
        store.revoke(rid)
        assert _status(c, "POST", "/collections/a/points/search", keys["read"],
                       json=q).status_code == 401


def test_clients_send_the_key(keyed):
    url, keys, _ = keyed
    with ws.connect(url, api_key=keys["write"]) as db:
        col = db.create_collection("native", dim=2, metric="ip")
        col.upsert([5], [[0.0, 1.0]])
        assert [h.id for h in col.search([0.0, 1.0], k=1)] == [5]
    with ws.connect(url) as db, pytest.raises(PermissionError, match="API key"):
        db.list_collections()
    qdrant_client = pytest.importorskip("qdrant_client", reason="needs qdrant-client")
    from qdrant_client.http.exceptions import UnexpectedResponse

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*insecure connection.*")
        qc = qdrant_client.QdrantClient(url=url, api_key=keys["admin"], https=False,
                                        prefer_grpc=False, check_compatibility=False)
        bad = qdrant_client.QdrantClient(url=url, api_key="ws_0123456789ab_wrong",
                                         https=False, prefer_grpc=False,
                                         check_compatibility=False)
    try:
        assert "native" in [c.name for c in qc.get_collections().collections]
        assert qc.count("native").count == 1
        with pytest.raises(UnexpectedResponse) as e:
            bad.get_collections()
        assert e.value.status_code == 401
    finally:
        qc.close()
        bad.close()


def test_keyless_serves_loopback_clients_only(tmp_path):
    from warpsearch.server import Settings, create_app

    with ws.connect(tmp_path / "db", fsync="never") as db:
        app = create_app(db, Settings(close_db=False))

        async def ask(client_addr):
            transport = httpx.ASGITransport(app=app, client=client_addr)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                return (await c.get("/collections")).status_code

        assert asyncio.run(ask(("127.0.0.1", 5000))) == 200
        assert asyncio.run(ask(("::1", 5000))) == 200
        assert asyncio.run(ask(("10.0.0.7", 5000))) == 401


def test_serve_refuses_a_public_address_without_keys(tmp_path, capsys):
    pytest.importorskip("uvicorn", reason="needs the server extra")
    assert cli.main(["serve", "--path", str(tmp_path / "db"), "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "refusing to listen on 0.0.0.0" in err and "warpsearch keys create" in err
    assert cli.main(["serve", "--path", str(tmp_path / "db"), "--ssl-certfile", "x.pem"]) == 2
    assert "go together" in capsys.readouterr().err


def _self_signed(folder):
    """A certificate for 127.0.0.1 and its key (PEM files)."""
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    try:
        import datetime
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        if subprocess.run(["openssl", "version"], capture_output=True).returncode != 0:
            pytest.skip("needs the cryptography package or the openssl command")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                       capture_output=True)
        return cert, key
    pk = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    crt = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
           .public_key(pk.public_key()).serial_number(x509.random_serial_number())
           .not_valid_before(now - datetime.timedelta(minutes=5))
           .not_valid_after(now + datetime.timedelta(days=1))
           .add_extension(x509.SubjectAlternativeName(
               [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
           .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
           .sign(pk, hashes.SHA256()))
    with open(cert, "wb") as fh:
        fh.write(crt.public_bytes(serialization.Encoding.PEM))
    with open(key, "wb") as fh:
        fh.write(pk.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert, key


def test_https_with_a_key(tmp_path):
    uvicorn = pytest.importorskip("uvicorn", reason="needs the server extra")
    from warpsearch.server import Settings, create_app
    from warpsearch.server.auth import KeyStore

    cert, keyfile = _self_signed(tmp_path)
    db = ws.connect(tmp_path / "db", fsync="never")
    _, key = KeyStore(os.path.join(db.path, "api_keys.json")).create("admin")
    config = uvicorn.Config(create_app(db, Settings(threads=2)), host="127.0.0.1", port=0,
                            log_level="warning", ssl_certfile=cert, ssl_keyfile=keyfile)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"https://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, verify=ssl.create_default_context(cafile=cert)) as c:
            assert c.get("/collections").status_code == 401
            assert c.get("/collections", headers={"api-key": key}).status_code == 200
        with ws.connect(url, api_key=key, verify=cert) as rdb:
            rdb.create_collection("tls", dim=2)
            assert rdb.list_collections() == ["tls"]
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/healthz")  # the self-signed certificate is not trusted
        with ws.connect(url, api_key=key, retries=0) as rdb:
            with pytest.raises(ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
                rdb.list_collections()
        with ws.connect(url, api_key=key, verify=False) as rdb:  # checks turned off
            assert rdb.list_collections() == ["tls"]
    finally:
        server.should_exit = True
        thread.join(30)


def test_serve_with_tls_flags_and_a_key(tmp_path):
    """warpsearch serve --ssl-certfile/--ssl-keyfile: HTTPS on 127.0.0.1 with a key from
    the keys file in the database directory; no keyless-loopback notice then."""
    from .conftest import serve_process

    cert, keyfile = _self_signed(tmp_path)
    path = tmp_path / "data"
    ws.connect(path).close()
    from warpsearch.server.auth import KeyStore
    _, key = KeyStore(os.path.join(str(path), "api_keys.json")).create("admin")
    proc, url, lines = serve_process(["--fsync", "never", "--ssl-certfile", cert,
                                      "--ssl-keyfile", keyfile],
                                     dict(os.environ, WARPSEARCH_PATH=str(path)))
    try:
        assert url.startswith("https://127.0.0.1:")
        assert not any("keyless" in x for x in lines)
        ctx = ssl.create_default_context(cafile=cert)
        assert httpx.get(url + "/collections", verify=ctx).status_code == 401
        with ws.connect(url, api_key=key, verify=cert) as rdb:
            rdb.create_collection("tls", dim=2).upsert([1], [[0.5, 0.5]])
            assert rdb.list_collections() == ["tls"]
        with pytest.raises(httpx.TransportError):  # plain HTTP is not answered there
            httpx.get(url.replace("https", "http") + "/healthz")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stderr.close()
    with ws.connect(path) as db:
        assert db.get_collection("tls").count() == 1
