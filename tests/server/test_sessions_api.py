"""WIRE.md §3 session CRUD, names, tags, input and screens against a real `wsh-nb serve`."""

from __future__ import annotations

import pytest

from tests.helpers import wait_for

SESSION_FIELDS = {"name", "server", "pid", "command", "rows", "cols", "clients", "tags", "last_activity_ms"}


def plain(api, name) -> str:
    r = api.get(f"/sessions/{name}/screen", params={"format": "plain"})
    assert r.status_code == 200, r.text
    return "\n".join(r.json()["lines"])


def test_create_returns_session_info_with_exact_fields(api, name):
    r = api.post(
        "/sessions", json={"name": name, "command": "cat", "tags": ["b", "a", "b"], "rows": 30, "cols": 100}
    )
    assert r.status_code == 201
    info = r.json()
    assert set(info) == SESSION_FIELDS
    assert info["name"] == name and info["server"] == "shared" and info["command"] == "cat"
    assert (info["rows"], info["cols"]) == (30, 100)
    assert info["tags"] == ["a", "b"]
    assert isinstance(info["pid"], int) and info["clients"] == 0
    assert api.get(f"/sessions/{name}").json()["name"] == name
    assert api.delete(f"/sessions/{name}").status_code == 204
    assert api.get(f"/sessions/{name}").status_code == 404


def test_rows_and_cols_are_clamped(api, name):
    info = api.post("/sessions", json={"name": name, "command": "cat", "rows": 0, "cols": 5000}).json()
    assert (info["rows"], info["cols"]) == (1, 1000)
    api.delete(f"/sessions/{name}")


@pytest.mark.parametrize("bad", ["has spaces", "../escape", "x" * 65, "", "a/b", "é" * 33])
def test_invalid_session_names_are_400(api, bad):
    r = api.post("/sessions", json={"name": bad, "command": "cat"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_session_name"


def test_unicode_letters_are_valid_names(api):
    r = api.post("/sessions", json={"name": "café", "command": "cat"})
    assert r.status_code == 201
    api.delete("/sessions/café")


@pytest.mark.parametrize("bad", [["ok", "not ok"], ["x" * 65], [""], "ci", [3]])
def test_invalid_tags_are_400_and_nothing_is_spawned(api, name, bad):
    before = len(api.get("/sessions").json())
    r = api.post("/sessions", json={"name": name, "command": "cat", "tags": bad})
    assert r.status_code in (400, 422)
    if r.status_code == 400:
        assert r.json()["error"]["code"] == "invalid_tag"
    assert len(api.get("/sessions").json()) == before
    assert api.get(f"/sessions/{name}").status_code == 404


def test_duplicate_name_is_409(api, name):
    assert api.post("/sessions", json={"name": name, "command": "cat"}).status_code == 201
    r = api.post("/sessions", json={"name": name, "command": "cat"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "session_name_conflict"
    api.delete(f"/sessions/{name}")


def test_unknown_session_is_404_everywhere(api):
    for method, path in [
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/input"),
        ("GET", "/screen"),
        ("GET", "/scrollback"),
        ("GET", "/idle?timeout_ms=10"),
        ("POST", "/detach"),
    ]:
        kwargs = {"json": {}} if method in ("PATCH",) else {}
        r = api.request(method, f"/sessions/nope{path}", **kwargs)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error"]["code"] == "session_not_found"


def test_rename_keeps_tags_then_add_then_remove(api, name):
    api.post("/sessions", json={"name": name, "command": "cat", "tags": ["keep", "drop"]})
    r = api.patch(
        f"/sessions/{name}", json={"name": name + "-r", "add_tags": ["new"], "remove_tags": ["drop"]}
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == name + "-r" and r.json()["tags"] == ["keep", "new"]
    assert api.get(f"/sessions/{name}").status_code == 404
    api.delete(f"/sessions/{name}-r")


def test_rename_conflicts_are_409_and_validated_first(api, name):
    api.post("/sessions", json={"name": name, "command": "cat", "tags": ["x"]})
    api.post("/sessions", json={"name": name + "2", "command": "cat"})
    assert api.patch(f"/sessions/{name}", json={"name": name + "2"}).status_code == 409
    assert api.patch(f"/sessions/{name}", json={"name": name}).status_code == 409  # its own name
    r = api.patch(f"/sessions/{name}", json={"name": name + "3", "add_tags": ["bad tag"]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_tag"
    info = api.get(f"/sessions/{name}").json()  # nothing half-done: not renamed
    assert info["tags"] == ["x"]
    api.delete(f"/sessions/{name}")
    api.delete(f"/sessions/{name}2")


def test_tag_filter_is_an_or_with_trimmed_values(api, name):
    api.post("/sessions", json={"name": name + "a", "command": "cat", "tags": ["alpha"]})
    api.post("/sessions", json={"name": name + "b", "command": "cat", "tags": ["beta"]})
    api.post("/sessions", json={"name": name + "c", "command": "cat", "tags": ["gamma"]})
    names = {s["name"] for s in api.get("/sessions", params={"tag": " alpha, beta,,"}).json()}
    assert {name + "a", name + "b"} <= names and name + "c" not in names
    for suffix in "abc":
        api.delete(f"/sessions/{name}{suffix}")


def test_input_arrives_and_screen_shows_it(api, shell):
    assert api.post(f"/sessions/{shell}/input", content=b"echo hel''lo\n").status_code == 204
    wait_for(lambda: "hello" in plain(api, shell).replace("hel''lo", ""), message="echo output")


def test_screen_shapes_plain_and_styled(api, shell):
    api.post(f"/sessions/{shell}/input", content=b"printf '\\033[1;31mRED\\033[0m\\n'\n")
    wait_for(lambda: any(line.endswith("RED") for line in plain(api, shell).splitlines()), message="RED")
    r = api.get(f"/sessions/{shell}/screen")  # default: styled
    s = r.json()
    for key in (
        "epoch",
        "first_line_index",
        "total_lines",
        "lines",
        "cursor",
        "cols",
        "rows",
        "alternate_active",
        "last_activity_ms",
    ):
        assert key in s
    assert len(s["lines"]) == s["rows"] == 24 and s["cols"] == 80
    assert set(s["cursor"]) == {"row", "col", "visible"}
    spans = [span for line in s["lines"] for span in line if span["text"] == "RED"]
    assert spans and spans[0]["bold"] is True and spans[0]["fg"] == {"indexed": 1}
    assert "inverse" not in spans[0]
    assert api.get(f"/sessions/{shell}/screen", params={"format": "bogus"}).status_code == 400


def test_scrollback_pages(api, name):
    api.post("/sessions", json={"name": name, "command": "seq 1 300; exec cat"})
    wait_for(lambda: "300" in plain(api, name), message="seq output")
    r = api.get(f"/sessions/{name}/scrollback", params={"format": "plain", "offset": 0, "limit": 5})
    body = r.json()
    assert set(body) == {"epoch", "lines", "total_lines", "offset"}
    assert body["lines"] == ["1", "2", "3", "4", "5"] and body["offset"] == 0
    assert body["total_lines"] >= 300
    far = api.get(f"/sessions/{name}/scrollback", params={"offset": 10**6}).json()
    assert far["lines"] == []
    api.delete(f"/sessions/{name}")


def test_thousand_sequential_inputs_arrive_in_order_byte_exact(api, name, tmp_path):
    out = tmp_path / "out.bin"
    api.post("/sessions", json={"name": name, "command": f"stty raw -echo; cat > {out}"})
    wait_for(lambda: out.exists(), message="cat started")
    # wait until stty has run: the file exists once the redirection happened, after stty
    expected = b"".join(f"{i:04d}|".encode() for i in range(1000))
    for i in range(1000):
        assert api.post(f"/sessions/{name}/input", content=f"{i:04d}|".encode()).status_code == 204
    wait_for(
        lambda: out.read_bytes() == expected or len(out.read_bytes()) >= len(expected),
        timeout=20,
        message="all input in the file",
    )
    assert out.read_bytes() == expected
    api.delete(f"/sessions/{name}")


def test_process_exit_removes_the_session(api, name):
    api.post("/sessions", json={"name": name, "command": "cat"})
    api.post(f"/sessions/{name}/input", content=b"\x04")  # EOF: cat exits
    wait_for(lambda: api.get(f"/sessions/{name}").status_code == 404, message="session removed on exit")
    assert name not in {s["name"] for s in api.get("/sessions").json()}


def test_detach_is_204(api, name):
    api.post("/sessions", json={"name": name, "command": "cat"})
    assert api.post(f"/sessions/{name}/detach", json={}).status_code == 204
    api.delete(f"/sessions/{name}")


def test_bad_cwd_is_session_create_failed(api, name):
    r = api.post("/sessions", json={"name": name, "command": "true", "cwd": "/does/not/exist"})
    assert r.status_code == 500 and r.json()["error"]["code"] == "session_create_failed"
    assert api.get(f"/sessions/{name}").status_code == 404


def test_env_and_term_reach_the_child(api, name):
    api.post("/sessions", json={"name": name, "command": "echo T=$TERM X=$X; exec cat", "env": {"X": "yes"}})
    wait_for(lambda: "T=xterm-256color X=yes" in plain(api, name), message="env echo")
    api.delete(f"/sessions/{name}")


def test_auto_names_count_up_and_are_never_reused(spawn_server):
    import httpx

    srv = spawn_server("autos")
    with httpx.Client(base_url=srv.url) as c:
        c.post("/sessions", json={"name": "1", "command": "cat"})  # taken: the counter skips it
        names = [c.post("/sessions", json={"command": "cat"}).json()["name"] for _ in range(2)]
        assert names == ["0", "2"]
        c.delete("/sessions/0")
        assert c.post("/sessions", json={"command": "cat"}).json()["name"] == "3"


def test_max_sessions_is_503(spawn_server):
    import httpx

    srv = spawn_server("tiny", args=["--max-sessions", "1"])
    with httpx.Client(base_url=srv.url) as c:
        assert c.post("/sessions", json={"command": "cat"}).status_code == 201
        r = c.post("/sessions", json={"command": "cat"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "max_sessions_reached"
