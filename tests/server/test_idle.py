"""WIRE.md §3 idle detection: per-session and server-level waits against a real server."""

from __future__ import annotations

import threading
import time

import httpx

from tests.helpers import wait_for


def test_idle_requires_timeout_ms(api, shell):
    r = api.get(f"/sessions/{shell}/idle")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request"


def test_idle_returns_screen_and_generation_once_quiet(api, shell):
    api.post(f"/sessions/{shell}/input", content=b"echo ready\n")
    r = api.get(f"/sessions/{shell}/idle", params={"timeout_ms": 200, "format": "plain"})
    assert r.status_code == 200
    body = r.json()
    assert {"screen", "scrollback_lines", "generation", "last_activity_ms"} <= set(body)
    assert any("ready" in line for line in body["screen"]["lines"])
    assert body["generation"] > 0 and body["last_activity_ms"] >= 200


def test_max_wait_is_408_while_output_keeps_coming(api, name):
    api.post("/sessions", json={"name": name, "command": "while :; do echo tick; sleep 0.05; done"})
    r = api.get(f"/sessions/{name}/idle", params={"timeout_ms": 500, "max_wait_ms": 400})
    assert r.status_code == 408 and r.json()["error"]["code"] == "idle_timeout"
    api.delete(f"/sessions/{name}")


def test_last_generation_blocks_until_new_activity(api, shell):
    first = api.get(f"/sessions/{shell}/idle", params={"timeout_ms": 100}).json()
    # Same generation again: must not return until something new happens.
    r = api.get(
        f"/sessions/{shell}/idle",
        params={"timeout_ms": 100, "max_wait_ms": 300, "last_generation": first["generation"]},
    )
    assert r.status_code == 408
    result: dict = {}

    def waiter():
        result["r"] = httpx.get(
            f"{api.base_url}/sessions/{shell}/idle",
            timeout=10,
            params={"timeout_ms": 100, "last_generation": first["generation"], "format": "plain"},
        )

    t = threading.Thread(target=waiter)
    t.start()
    api.post(f"/sessions/{shell}/input", content=b"echo later\n")
    t.join(10)
    body = result["r"].json()
    assert body["generation"] > first["generation"]
    assert any("later" in line for line in body["screen"]["lines"])


def test_fresh_waits_for_real_silence_after_the_request(api, shell):
    api.get(f"/sessions/{shell}/idle", params={"timeout_ms": 50})
    start = time.monotonic()
    r = api.get(f"/sessions/{shell}/idle", params={"timeout_ms": 300, "fresh": "true"})
    assert r.status_code == 200
    assert time.monotonic() - start >= 0.3
    start = time.monotonic()
    api.get(f"/sessions/{shell}/idle", params={"timeout_ms": 300})  # not fresh: already quiet
    assert time.monotonic() - start < 0.3


def test_waiter_on_exiting_session_gets_an_answer_not_a_hang(api, name):
    api.post("/sessions", json={"name": name, "command": "sleep 0.3; echo bye; sleep 0.2"})
    r = api.get(
        f"/sessions/{name}/idle", params={"timeout_ms": 5000, "max_wait_ms": 20000, "format": "plain"}
    )
    assert r.status_code in (200, 404)
    if r.status_code == 200:
        assert any("bye" in line for line in r.json()["screen"]["lines"])


def test_server_idle_picks_the_quiet_session_and_honours_last_session(api, name):
    api.post(
        "/sessions",
        json={"name": name + "busy", "command": "while :; do echo b; sleep 0.02; done", "tags": [name]},
    )
    api.post("/sessions", json={"name": name + "calm", "command": "echo calm; exec cat", "tags": [name]})
    r = api.get("/idle", params={"timeout_ms": 200, "tag": name, "max_wait_ms": 5000})
    body = r.json()
    assert r.status_code == 200, body
    assert set(body) == {"session", "server", "screen", "scrollback_lines", "generation"}
    assert body["session"] == name + "calm" and body["server"] == "shared"
    r = api.get(
        "/idle",
        params={
            "timeout_ms": 200,
            "tag": name,
            "max_wait_ms": 500,
            "last_session": name + "calm",
            "last_generation": body["generation"],
        },
    )
    assert r.status_code == 408  # the calm one was already reported; the busy one never settles
    api.delete(f"/sessions/{name}busy")
    api.delete(f"/sessions/{name}calm")


def test_server_idle_with_no_candidates_is_404_at_once(api):
    start = time.monotonic()
    r = api.get("/idle", params={"timeout_ms": 100, "tag": "no-such-tag-anywhere", "max_wait_ms": 10000})
    assert r.status_code == 404 and r.json()["error"]["code"] == "no_sessions"
    assert time.monotonic() - start < 2


def test_idle_waits_are_capped(api, shell):
    r = api.get(f"/sessions/{shell}/idle", params={"timeout_ms": "soon"})
    assert r.status_code == 400
    wait_for(lambda: api.get(f"/sessions/{shell}/idle", params={"timeout_ms": 10}).status_code == 200)
