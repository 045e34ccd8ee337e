"""Every Hub / Session call against a real backend process, plus local sessions of the kernel's machine."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.helpers import wait_for
from tests.notebook.support import SH
from wsh_nb import (
    AmbiguousSession,
    HealthTimeout,
    Hub,
    IdleResult,
    IdleTimeout,
    InvalidRequest,
    ScreenView,
    ServerNotFound,
    Session,
    SessionNotFound,
    errors,
)
from wsh_nb.notebook.display import ScrollbackView
from wsh_nb.notebook.frames import SERVER_COLUMNS, SESSION_COLUMNS

TOKEN = "tok-0123456789abcdef-secret"


def shows(session: Session, text: str, timeout: float = 20.0) -> None:
    wait_for(lambda: text in session.screen(format="plain").text, timeout, message=f"{text!r} on {session}")


# -- servers ------------------------------------------------------------------------------------
def test_add_server_answers_connecting_then_wait_healthy(hub, server):
    assert hub.add_server(server.url) == {"address": server.url, "health": "connecting"}
    entries = hub.wait_healthy(timeout=10)
    assert [e["hostname"] for e in entries] == ["solo"] and entries[0]["health"] == "healthy"
    with pytest.raises(errors.ServerAlreadyRegistered):
        hub.add_server(server.url)


def test_bad_address_says_what_to_write(hub):
    with pytest.raises(InvalidRequest, match="http://"):
        hub.add_server("127.0.0.1:9")


def test_wait_healthy_names_the_laggard(hub, spawn_server):
    frozen = spawn_server("frozen")
    frozen.freeze()
    hub.add_server(frozen.url)
    with pytest.raises(HealthTimeout) as info:
        hub.wait_healthy(timeout=0.5)
    assert isinstance(info.value, TimeoutError)
    assert frozen.url in str(info.value) or "frozen" in str(info.value)


def test_servers_frame_and_server_entries(solo_hub):
    frame = solo_hub.servers()
    assert list(frame.columns) == list(SERVER_COLUMNS)
    assert frame["hostname"].tolist() == ["kernel", "solo"]
    assert frame.iloc[0]["address"] == "local" and set(frame["health"]) == {"healthy"}
    assert solo_hub.server("solo")["health"] == "healthy"
    assert solo_hub.server("kernel")["address"] == "local"
    with pytest.raises(ServerNotFound):
        solo_hub.server("nope")


def test_remove_server(solo_hub):
    solo_hub.remove_server("solo")
    assert solo_hub.servers()["hostname"].tolist() == ["kernel"]
    with pytest.raises(ServerNotFound):
        solo_hub.remove_server("solo")


def test_token_never_shown(hub, spawn_server):
    secure = spawn_server("secure", token=TOKEN)
    hub.add_server(secure.url, token=TOKEN)
    hub.wait_healthy("secure", timeout=10)
    s = hub.create_session("t", server="secure", command=SH)
    shown = [
        repr(hub),
        str(hub),
        hub.servers().to_string(),
        repr(hub.server("secure")),
        hub.sessions().to_string(),
        repr(s),
        repr(s.info()),
        repr(hub.info()),
    ]
    assert not any(TOKEN in text for text in shown)
    assert TOKEN not in repr(vars(hub))


# -- sessions -----------------------------------------------------------------------------------
def test_create_remote_and_local_sessions(solo_hub):
    remote = solo_hub.create_session("build", server="solo", tags=["ci", "b"], command=SH)
    local = solo_hub.create_session("here", tags=["ci"], command=SH)
    assert (remote.name, remote.server) == ("build", "solo") and repr(remote) == "<Session solo/build>"
    assert (local.name, local.server) == ("here", "kernel")
    frame = solo_hub.sessions()
    assert list(frame.columns) == list(SESSION_COLUMNS) and frame.attrs["partial"] == []
    assert sorted(zip(frame["server"], frame["name"], strict=True)) == [("kernel", "here"), ("solo", "build")]
    assert frame.set_index("name").loc["build", "tags"] == ["b", "ci"]
    assert solo_hub.sessions(tag="b")["name"].tolist() == ["build"]
    assert sorted(solo_hub.sessions(tag=["b", "ci"])["name"]) == ["build", "here"]
    assert solo_hub.sessions(server="solo")["name"].tolist() == ["build"]
    empty = solo_hub.sessions(tag="none")
    assert empty.empty and list(empty.columns) == list(SESSION_COLUMNS)


def test_create_with_command_cwd_env_and_size(solo_hub, tmp_path):
    s = solo_hub.create_session(
        "opts", server="solo", cwd=str(tmp_path), env={"WSH_X": "xyz"}, rows=10, cols=150, command=SH
    )
    info = s.info()
    assert (info["rows"], info["cols"]) == (10, 150)
    s.send("echo $WSH_X-$(pwd)\n")
    shows(s, f"xyz-{tmp_path}")
    c = solo_hub.create_session("cmd", command="echo from-command; sleep 30")
    shows(c, "from-command")
    assert "sleep 30" in c.info()["command"]


def test_name_at_server_is_accepted_everywhere(solo_hub):
    solo_hub.create_session("x@solo", command=SH)
    s = solo_hub.session("x@solo")
    assert (s.name, s.server) == ("x", "solo")
    solo_hub.send("x@solo", "echo at-form\n")
    wait_for(lambda: "at-form" in solo_hub.screen("x@solo", format="plain").text, 20, message="at-form")
    with pytest.raises(InvalidRequest, match="use one of them"):
        solo_hub.session("x@solo", server="kernel")
    solo_hub.kill("x@solo")


def test_placement_memory_routes_by_name(solo_hub):
    solo_hub.create_session("build", server="solo", command=SH)
    s = solo_hub.session("build")
    assert s.server == "solo"
    solo_hub.send("build", "echo routed\n")
    wait_for(lambda: "routed" in solo_hub.screen("build", format="plain").text, 20, message="routed")
    solo_hub.kill("build")
    with pytest.raises(SessionNotFound, match="server="):  # forgotten: a bare name is local again
        solo_hub.session("build")


def test_unknown_bare_name_is_looked_up_locally_with_a_hint(solo_hub, client):
    client.post("/sessions", json={"name": "theirs"})  # created behind the hub's back
    with pytest.raises(SessionNotFound) as info:
        solo_hub.session("theirs")
    assert "theirs@HOST" in str(info.value)
    assert solo_hub.session("theirs", server="solo").server == "solo"


def test_a_name_placed_twice_is_ambiguous(solo_hub):
    solo_hub.create_session("dup", server="solo", command=SH)
    solo_hub.create_session("dup", command=SH)
    with pytest.raises(AmbiguousSession) as info:
        solo_hub.send("dup", "x")
    assert "kernel" in str(info.value) and "solo" in str(info.value)
    assert solo_hub.session("dup", server="solo").server == "solo"
    solo_hub.kill("dup", server="kernel")
    assert solo_hub.session("dup").server == "solo"  # only one placement left


def test_send_str_bytes_and_utf8(solo_hub):
    s = solo_hub.create_session("io", server="solo", command=SH)
    s.send("echo héllo-")
    s.send(b"w\xc3\xb6rld\n")
    shows(s, "héllo-wörld")
    with pytest.raises(InvalidRequest):
        s.send(42)  # type: ignore[arg-type]


def test_screen_and_scrollback_views(solo_hub):
    s = solo_hub.create_session("view", server="solo", rows=5, cols=40, command=SH)
    s.send("printf '\\033[31mred\\033[0m\\n'; seq 1 30; echo FIN-$((1+1))\n")
    shows(s, "FIN-2")
    styled = s.screen()
    assert isinstance(styled, ScreenView) and styled.styled
    assert len(styled.lines) == 5 and styled.cols == 40
    assert styled.cursor.row < 5
    plain = s.screen(format="plain")
    assert not plain.styled and plain.text.split("\n") == plain.lines
    back = s.scrollback(format="plain", limit=1000)
    assert isinstance(back, ScrollbackView)
    assert any(line.endswith("red") and "printf" not in line for line in back.lines)  # maybe after a prompt
    assert "color:#cd0000" in s.scrollback(limit=1000)._repr_html_()


def test_tag_untag_rename_info(solo_hub):
    s = solo_hub.create_session("old", server="solo", tags=["a"], command=SH)
    assert s.tag("b", "c")["tags"] == ["a", "b", "c"]
    assert s.untag("a")["tags"] == ["b", "c"]
    assert s.rename("new")["name"] == "new" and s.name == "new"
    assert solo_hub.session("new").server == "solo"  # placement followed the rename
    with pytest.raises(SessionNotFound):
        solo_hub.session("old", server="solo")
    info = s.info()
    assert set(info) >= set(SESSION_COLUMNS) and info["server"] == "solo"
    local = solo_hub.create_session("lold", command=SH)
    local.rename("lnew")
    assert solo_hub.session("lnew").server == "kernel"


def test_session_kill_and_local_exit_forget_placement(solo_hub):
    s = solo_hub.create_session("k", server="solo", command=SH)
    s.kill()
    with pytest.raises(SessionNotFound):
        s.info()
    short = solo_hub.create_session("short", command="sleep 0.1")
    assert short.server == "kernel"
    wait_for(lambda: "short" not in solo_hub.sessions()["name"].tolist(), 10, message="the child to exit")
    with pytest.raises(SessionNotFound, match="placed no session"):
        solo_hub.session("short")


# -- idle ---------------------------------------------------------------------------------------
def test_session_wait_idle_and_after_last(solo_hub):
    s = solo_hub.create_session("idle", server="solo", command=SH)
    first = s.wait_idle(timeout_ms=200)
    assert isinstance(first, IdleResult) and (first.session, first.server) == ("idle", "solo")
    assert isinstance(first.screen, ScreenView)
    again = s.wait_idle(timeout_ms=200, max_wait_ms=2000)  # already quiet → at once, same generation
    assert again.generation == first.generation
    with pytest.raises(IdleTimeout):  # nothing new happens: after_last waits for activity, then times out
        s.wait_idle(timeout_ms=100, max_wait_ms=300, after_last=True)
    s.send("echo next\n")
    after = s.wait_idle(timeout_ms=200, after_last=True)
    assert after.generation > first.generation and s.last_generation == after.generation
    with pytest.raises(IdleTimeout):
        s.wait_idle(timeout_ms=100, max_wait_ms=300, last_generation=after.generation)


def test_wait_idle_timeout_on_a_busy_session(solo_hub):
    busy = solo_hub.create_session("busy", command="while :; do echo x; sleep 0.02; done")
    with pytest.raises(IdleTimeout, match="max_wait_ms"):
        busy.wait_idle(timeout_ms=500, max_wait_ms=300)


def test_hub_wait_idle_by_name_and_race(solo_hub):
    solo_hub.create_session("one", server="solo", tags=["ci"], command=SH)
    by_name = solo_hub.wait_idle("one", timeout_ms=200)
    assert (by_name.session, by_name.server) == ("one", "solo")
    race = solo_hub.wait_idle(tag="ci", timeout_ms=200)
    assert (race.session, race.server) == ("one", "solo")
    with pytest.raises(IdleTimeout):  # the only candidate is the last winner: it must show activity first
        solo_hub.wait_idle(tag="ci", timeout_ms=100, max_wait_ms=400, last=race)
    with pytest.raises(errors.NoSessions):
        solo_hub.wait_idle(tag="nobody", timeout_ms=100)
    with pytest.raises(InvalidRequest):
        solo_hub.wait_idle("one", tag="ci")


# -- async twins --------------------------------------------------------------------------------
def test_async_twins_from_another_loop(hub, server):
    async def main() -> None:
        assert (await hub.aadd_server(server.url))["health"] == "connecting"
        await hub.await_healthy("solo", timeout=10)
        assert (await hub.aservers())["hostname"].tolist() == ["kernel", "solo"]
        assert (await hub.aserver("solo"))["hostname"] == "solo"
        s = await hub.acreate_session("a", server="solo", tags=["t"], command=SH)
        await s.asend("echo async-ok\n")
        for _ in range(200):
            if "async-ok" in (await s.ascreen(format="plain")).text:
                break
            await s.await_idle(timeout_ms=50, fresh=True)
        assert "async-ok" in (await hub.ascreen("a", format="plain")).text
        assert "async-ok" in (await s.ascrollback(format="plain", limit=1000)).text
        assert (await hub.asession("a")).server == "solo"
        await hub.asend("a", b"\n")
        assert (await s.await_idle(timeout_ms=100)).server == "solo"
        assert (await hub.await_idle(tag="t", timeout_ms=100)).session == "a"
        assert (await s.atag("u"))["tags"] == ["t", "u"]
        assert (await s.auntag("u"))["tags"] == ["t"]
        assert (await hub.atag("a", "v"))["tags"] == ["t", "v"]
        assert (await hub.auntag("a", "v"))["tags"] == ["t"]
        assert (await s.arename("b"))["name"] == "b" and s.name == "b"
        assert (await s.ainfo())["name"] == "b"
        assert (await hub.arename("b", "a"))["name"] == "a"
        assert (await (await hub.asession("a")).ainfo())["server"] == "solo"
        assert (await hub.asessions(tag="t"))["name"].tolist() == ["a"]
        assert (await hub.ascrollback("a", format="plain")).offset == 0
        assert (await hub.ainfo())["hostname"] == "kernel"
        await hub.akill("a")
        assert (await hub.asessions()).empty
        s2 = await hub.acreate_session("c", command=SH)
        await s2.akill()
        await hub.aremove_server("solo")

    asyncio.run(asyncio.wait_for(main(), 60))


def test_async_context_manager_closes():
    async def main() -> Hub:
        async with Hub(hostname="actx") as h:
            await h.acreate_session("x", command=SH)
        return h

    h = asyncio.run(main())
    assert h.closed and not h._loop.thread.is_alive()


# -- serve= -------------------------------------------------------------------------------------
def test_serve_exposes_the_hub_over_the_wire():
    with Hub(hostname="served", serve="127.0.0.1:0") as h:
        assert h.url and h.url.startswith("http://127.0.0.1:")
        h.create_session("web", command=SH)
        r = httpx.get(f"{h.url}/sessions", timeout=5)
        assert r.status_code == 200 and [s["name"] for s in r.json()] == ["web"]
        assert httpx.get(f"{h.url}/server/info", timeout=5).json()["hostname"] == "served"
        url = h.url
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/health", timeout=2)


def test_bad_serve_and_bad_hostname_fail_in_the_caller():
    import threading

    before = {t.ident for t in threading.enumerate()}
    with pytest.raises(InvalidRequest, match="host:port"):
        Hub(serve="nonsense")
    with pytest.raises(InvalidRequest, match="hostname"):
        Hub(hostname="bad host!")
    wait_for(lambda: {t.ident for t in threading.enumerate()} <= before, 5, message="no loop thread left")
