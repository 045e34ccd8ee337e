"""WIRE.md §0–§2: identity, JSON errors for framework failures, limits, headers, auth."""

from __future__ import annotations

import uuid

import httpx
import pytest

TOKEN = "s3cret-token-0123456789"


def test_health_and_info(api):
    assert api.get("/health").json() == {"status": "ok"}
    info = api.get("/server/info").json()
    assert info["hostname"] == "shared" and isinstance(info["version"], str)
    assert uuid.UUID(info["server_id"]).version == 4


def test_security_headers_on_every_response(api):
    for r in (api.get("/health"), api.get("/nope"), api.get("/sessions/nope")):
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"


def test_framework_errors_are_json(api):
    r = api.get("/no/such/route")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = api.put("/sessions")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    r = api.post("/sessions", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request"
    r = api.post("/sessions", json=[1, 2])
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    r = api.post("/sessions", json={"rows": "tall"})
    assert r.status_code == 422
    r = api.post(
        "/sessions", content=b"name=x", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 415 and r.json()["error"]["code"] == "invalid_request"


def test_body_over_one_mib_is_413(api, shell):
    r = api.post(f"/sessions/{shell}/input", content=b"x" * ((1 << 20) + 1))
    assert r.status_code == 413 and r.json()["error"]["code"] == "invalid_request"
    assert api.post(f"/sessions/{shell}/input", content=b"# " + b"x" * 1000 + b"\n").status_code == 204


def test_null_fields_equal_absent(api):
    r = api.post("/sessions", json={"name": None, "command": "cat", "tags": None, "rows": None})
    assert r.status_code == 201 and r.json()["rows"] == 24
    api.delete(f"/sessions/{r.json()['name']}")


def test_persist_get_and_put(api):
    assert api.get("/server/persist").json() == {"persistent": True}
    assert api.put("/server/persist", json={"persistent": "yes"}).status_code == 400
    assert api.put("/server/persist", json={"persistent": True}).json() == {"persistent": True}


@pytest.fixture(scope="module")
def locked(tmp_path_factory):
    from wsh_nb.launchers import BackendProcess

    proc = BackendProcess(hostname="locked", token=TOKEN, log_path=tmp_path_factory.mktemp("l") / "l.log")
    proc.start()
    yield proc
    proc.stop()


def test_auth_missing_wrong_query_and_open_health(locked):
    url = locked.url
    assert httpx.get(f"{url}/health").status_code == 200
    r = httpx.get(f"{url}/sessions")
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth_required"
    r = httpx.get(f"{url}/sessions", headers={"Authorization": "Bearer wrong-token-xxxxxxxx"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth_invalid"
    r = httpx.get(f"{url}/sessions", params={"token": TOKEN})
    assert r.status_code == 401
    ok = httpx.get(f"{url}/sessions", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.json() == []
    assert TOKEN not in r.text and TOKEN not in ok.text
    assert httpx.get(f"{url}/server/info").status_code == 401


def test_websocket_needs_the_token_too(locked):
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    ws_url = locked.url.replace("http://", "ws://") + "/ws/json"
    with pytest.raises(InvalidStatus) as info:
        connect(ws_url, proxy=None, open_timeout=5)
    assert info.value.response.status_code == 401
    with connect(ws_url, proxy=None, additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
        assert ws.recv(timeout=5) == '{"connected":true}'


def test_ws_json_streams_lifecycle_events(api, shared_server, name):
    import json

    from websockets.sync.client import connect

    with connect(shared_server.url.replace("http://", "ws://") + "/ws/json", proxy=None) as ws:
        assert json.loads(ws.recv(timeout=5)) == {"connected": True}
        api.post("/sessions", json={"name": name, "command": "cat"})
        api.patch(f"/sessions/{name}", json={"name": name + "x", "add_tags": ["t"]})
        api.delete(f"/sessions/{name}x")
        events = [json.loads(ws.recv(timeout=5)) for _ in range(4)]
    assert events == [
        {"event": "session_created", "params": {"name": name}},
        {"event": "session_renamed", "params": {"old_name": name, "new_name": name + "x"}},
        {"event": "session_tags_changed", "params": {"name": name + "x", "added": ["t"], "removed": []}},
        {"event": "session_destroyed", "params": {"name": name + "x"}},
    ]
