"""``%wsh`` / ``%%wsh send`` driven through a real IPython InteractiveShell against real backend processes."""

from __future__ import annotations

import contextlib
import re
import signal
import threading
import time

import pandas as pd
import pytest
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell

from tests.helpers import wait_for
from wsh_nb import IdleResult, IdleTimeout, ScreenView, ServerNotFound, Session, SessionNotFound, get_hub
from wsh_nb.notebook.magics import RED, RESET, WshInterrupted, WshMagicError, WshMagics

TOKEN = "tok-magics-5f1e0c9a-secret"
# an interactive shell without rc files (the user's rc files may be slow, or wait on a lock)
SHELL = "--command 'sh -i' --env PS1='$ '"


@pytest.fixture
def ip(monkeypatch):
    """The IPython shell with ``%load_ext wsh_nb``; plain output unless a test turns it off."""
    monkeypatch.setenv("WSH_NONINTERACTIVE", "1")
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "wsh_nb")
    yield shell
    shell.run_line_magic("unload_ext", "wsh_nb")
    assert not [t.name for t in threading.enumerate() if t.name in ("wsh-hub", "wsh-magic-batch")]


@pytest.fixture
def on_cluster(ip, cluster):
    """build-1, test-1 and deploy-1 registered through ``%wsh add`` and healthy."""
    for backend in cluster:
        assert ip.run_cell(f"%wsh add {backend.url}").success
    assert ip.run_cell("%wsh wait --timeout 10").success
    return cluster


@pytest.fixture
def on_solo(ip, server):
    assert ip.run_cell(f"%wsh add {server.url} --wait").success
    return server


def run(ip, source: str):
    """Run a cell; returns its ExecutionResult (never raises)."""
    return ip.run_cell(source, store_history=False)


def value(ip, source: str):
    result = run(ip, source)
    assert result.success, result.error_in_exec
    return result.result


def shows(session: str, text: str, timeout: float = 10.0) -> None:
    name, _, server = session.partition("@")
    hub = get_hub()
    wait_for(lambda: text in hub.screen(name, server=server or None).text, timeout, message=f"{text!r}")


@contextlib.contextmanager
def default_sigint():
    """Python's own SIGINT handler (KeyboardInterrupt in the main thread), as in a kernel."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class Recorder(DisplayPublisher):
    """A display publisher that records every publish: (data, display_id, update)."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[dict, str | None, bool]] = []

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs) -> None:
        self.events.append((data, (transient or {}).get("display_id"), update))


# -- servers ------------------------------------------------------------------------------------
def test_add_wait_servers_server_remove_return_values(ip, server, capsys):
    added = value(ip, f"%wsh add {server.url}")
    assert added == {"address": server.url, "health": "connecting"}
    assert run(ip, "%wsh wait solo --timeout 10").success
    assert "healthy: solo" in capsys.readouterr().out
    frame = value(ip, "%wsh servers")
    assert isinstance(frame, pd.DataFrame) and list(frame.hostname)[1:] == ["solo"]
    ip.run_cell("df = %wsh servers")
    assert list(ip.user_ns["df"].hostname) == list(frame.hostname)
    entry = value(ip, "%wsh server solo")
    assert isinstance(entry, dict) and entry["health"] == "healthy"
    assert value(ip, "%wsh remove solo") is None
    assert "removed solo" in capsys.readouterr().out
    assert list(value(ip, "%wsh servers").hostname) == [get_hub().hostname]


def test_token_never_appears_in_output(ip, spawn_server, capsys, monkeypatch):
    locked = spawn_server("locked", token=TOKEN)
    entry = value(ip, f"%wsh add {locked.url} --token {TOKEN} --wait")
    assert entry["hostname"] == "locked" and entry["health"] == "healthy"
    for cell in ("%wsh servers", "%wsh server locked", "print(%wsh servers)", "%wsh sessions"):
        result = run(ip, cell)
        if result.result is not None:
            ip.display_formatter.format(result.result)
            print(repr(result.result), result.result)
    monkeypatch.setenv("OTHER_TOKEN", TOKEN + "-x")
    other = spawn_server("other", token=TOKEN + "-y")  # the wrong token: rejected, the error is shown
    run(ip, f"%wsh add {other.url} --token-env OTHER_TOKEN")
    failed = run(ip, "%wsh wait other --timeout 1")
    assert not failed.success
    out = capsys.readouterr()
    assert TOKEN not in out.out + out.err and TOKEN not in str(failed.error_in_exec)


def test_unknown_server_is_one_red_line_and_fails_the_cell(ip, on_cluster, capsys, monkeypatch):
    monkeypatch.delenv("WSH_NONINTERACTIVE")
    for cell in ("%wsh server build-9", "%wsh sessions --on build-9", "%wsh create x --on build-9"):
        result = run(ip, cell)
        assert not result.success and isinstance(result.error_in_exec, WshMagicError)
        assert isinstance(result.error_in_exec, ServerNotFound)  # still the wsh error class
        out = capsys.readouterr().out
        assert out == (
            f"{RED}server 'build-9' is not registered; registered: build-1, test-1, deploy-1 — pick one, "
            f"or register it with %wsh add URL{RESET}\n"
        ), out
    assert "Traceback" not in out


def test_wait_for_an_unregistered_backend_fails_at_once(ip, on_solo, capsys):
    start = time.monotonic()
    result = run(ip, "%wsh wait nope --timeout 10")
    assert not result.success and time.monotonic() - start < 2
    assert "server 'nope' is not registered; registered: solo" in capsys.readouterr().out


def test_wait_timeout_names_the_laggard(ip, spawn_server, capsys):
    frozen = spawn_server("frozen")
    frozen.freeze()
    run(ip, f"%wsh add {frozen.url}")
    result = run(ip, "%wsh wait --timeout 0.5")
    assert not result.success
    out = capsys.readouterr().out
    assert "not healthy after 0.5 s" in out and "%wsh servers shows their state" in out


def test_bad_subcommands_and_flags_are_usage_errors(ip, capsys):
    for cell, text in (
        ("%wsh frob", "unknown subcommand 'frob'; use one of: servers, add"),
        ("%wsh idle --timeout-ms -3", "invalid positive integer value: '-3'"),
        ("%wsh sessions --bogus", "unrecognized arguments: --bogus"),
        ("%wsh kill", "give a session NAME or --tag T"),
        ("%wsh send x", "put %%wsh send NAME"),
        ("%%wsh servers\nbody", "only send is a cell magic"),
        ("%wsh screen 'unclosed", "cannot split"),
        ("%wsh screen a@b --on c", "names server 'b' but --on says 'c'"),
    ):
        result = run(ip, cell)
        assert not result.success, cell
        err = capsys.readouterr().err
        assert "UsageError" in err and text in err, (cell, err)
        assert "Traceback" not in err


def test_missing_session_fails_the_cell_an_empty_listing_does_not(ip, on_solo, capsys):
    result = run(ip, "%wsh sessions --tag nothing-has-this")
    assert result.success and isinstance(result.result, pd.DataFrame) and result.result.empty
    capsys.readouterr()
    for cell, text in (
        ("%wsh screen ghost", "no session 'ghost' on the hub's own server"),
        ("%wsh screen ghost@solo", "no session 'ghost' on solo"),
        ("%wsh kill ghost --on solo", "no session 'ghost' on solo"),
        ("%%wsh send ghost --on solo\necho hi", "no session 'ghost' on solo"),
        ("%%wsh send --tag nothing-has-this\necho hi", "no sessions tagged nothing-has-this on any server"),
    ):
        result = run(ip, cell)
        assert not result.success, cell
        out = capsys.readouterr().out
        assert text in out and out.count("\n") == 1, (cell, out)
    assert isinstance(run(ip, "%wsh screen ghost").error_in_exec, SessionNotFound)


# -- sessions -----------------------------------------------------------------------------------
def test_create_screen_idle_sessions_kill_on_a_backend(ip, on_solo, capsys):
    session = value(ip, "%wsh create job --on solo --tag ci --command 'echo made-it; sleep 30' --cwd /tmp")
    assert isinstance(session, Session) and (session.server, session.name) == ("solo", "job")
    idle = value(ip, "%wsh idle job@solo --timeout-ms 200")
    assert isinstance(idle, IdleResult) and idle.server == "solo" and "made-it" in idle.screen.text
    text = ip.display_formatter.format(idle)[0]["text/plain"]
    assert text.startswith("--- solo/job: idle") and "made-it" in text
    screen = value(ip, "%wsh screen job")  # placement memory: no server needed
    assert isinstance(screen, ScreenView) and "made-it" in screen.text
    assert "<span" in screen._repr_html_() or "made-it" in screen._repr_html_()
    frame = value(ip, "%wsh sessions --tag ci")
    assert list(zip(frame.server, frame.name, strict=True)) == [("solo", "job")]
    assert value(ip, "%wsh kill job") is None
    assert "killed solo/job" in capsys.readouterr().out
    assert value(ip, "%wsh sessions --on solo").empty


def test_dollar_home_and_braces_reach_the_remote_shell_unexpanded(ip, on_solo):
    ip.user_ns["x"] = "KERNEL-VALUE"
    value(ip, "%wsh create sh1 --on solo --env HOME=/remote/home --command 'echo \"[$HOME] {x}\"; sleep 30'")
    shows("sh1@solo", "[/remote/home] {x}")
    value(ip, f"%wsh create sh2 --on solo --env HOME=/remote/home2 {SHELL}")
    shows("sh2@solo", "$")
    assert run(ip, '%%wsh send sh2 --wait --timeout-ms 300\necho "<$HOME>" {x}').success
    shows("sh2@solo", "</remote/home2> {x}")
    assert "KERNEL-VALUE" not in get_hub().screen("sh2", server="solo").text


def test_idle_timeout_is_an_error_line_and_config_sets_the_default(ip, on_solo, capsys):
    value(ip, "%wsh create busy --on solo --command 'while :; do echo tick; sleep 0.05; done'")
    run(ip, "%config WshMagics.max_wait_ms = 400")
    capsys.readouterr()
    start = time.monotonic()
    result = run(ip, "%wsh idle busy --timeout-ms 300")
    assert not result.success and isinstance(result.error_in_exec, IdleTimeout)
    assert time.monotonic() - start < 3
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "Traceback" not in out, out
    assert out.startswith("busy: not idle for 300 ms within 400 ms; raise --max-wait-ms"), out
    failed = run(ip, "%%wsh send busy --wait --timeout-ms 300\nx")  # a failed --wait fails the cell
    assert not failed.success and "1 of 1 did not settle: solo/busy" in capsys.readouterr().out


# -- fan-out ------------------------------------------------------------------------------------
def _three_tagged(ip) -> list[str]:
    labels = []
    for host in ("build-1", "test-1", "deploy-1"):
        name = f"ci-{host.split('-')[0]}"
        value(ip, f"%wsh create {name} --on {host} --tag ci {SHELL}")
        labels.append(f"{host}/{name}")
    for label in labels:  # the shells are up (a prompt) before anything is typed
        host, name = label.split("/")
        shows(f"{name}@{host}", "$")
    return labels


def test_send_tag_reaches_sessions_on_three_servers_plain(ip, on_cluster, capsys):
    labels = _three_tagged(ip)
    result = run(ip, "%%wsh send --tag ci --wait --timeout-ms 300 -o res\necho fan-$((6*7))")
    assert result.success, result.error_in_exec
    out = capsys.readouterr().out
    for label in labels:
        assert f"--- {label}: idle ---" in out
    results = ip.user_ns["res"]
    assert sorted(results) == sorted(labels)
    for label, idle in results.items():
        assert isinstance(idle, IdleResult) and f"{idle.server}/{idle.session}" == label
        assert "fan-42" in idle.screen.text
    assert run(ip, "%%wsh send --tag ci --no-newline\necho no-enter").success
    assert sorted(re.findall(r"sent to (\S+)", capsys.readouterr().out)) == sorted(labels)


def test_send_tag_shows_one_area_per_session_updated_in_place(ip, on_cluster, monkeypatch):
    labels = _three_tagged(ip)
    monkeypatch.delenv("WSH_NONINTERACTIVE")
    recorder = Recorder()
    monkeypatch.setattr(ip, "display_pub", recorder)
    assert run(ip, "%%wsh send --tag ci --wait --timeout-ms 300\necho live-$((2+3))").success
    ids: dict[str, str] = {}
    last: dict[str, str] = {}
    for data, display_id, update in recorder.events:
        assert display_id is not None
        label = data["text/plain"].split(":", 1)[0].removeprefix("--- ")
        assert label in labels
        assert ids.setdefault(label, display_id) == display_id  # one area per session
        assert update == (label in last)  # the first publish creates it, every later one updates it
        last[label] = data["text/plain"]
        assert "text/html" in data and "wsh-panel" in data["text/html"]
    assert sorted(ids) == sorted(labels) and len(set(ids.values())) == 3
    for text in last.values():
        assert ": idle ---" in text and "live-5" in text


def test_kill_tag_kills_on_every_server(ip, on_cluster, capsys):
    labels = _three_tagged(ip)
    value(ip, "%wsh create keep --on test-1 --tag other")
    assert value(ip, "%wsh kill --tag ci") is None
    out = capsys.readouterr().out
    assert "killed 3 sessions tagged ci:" in out and all(label in out for label in labels)
    frame = value(ip, "%wsh sessions")
    assert list(frame.name) == ["keep"]
    assert run(ip, "%wsh kill --tag ci").success  # nothing left: a note, not an error
    assert "no sessions tagged ci" in capsys.readouterr().err


def test_idle_race_over_a_tag_and_over_one_server(ip, on_cluster):
    value(ip, "%wsh create fast --on deploy-1 --tag race --command 'echo quick; sleep 30'")
    value(ip, "%wsh create slow --on build-1 --tag race --command 'while :; do echo t; sleep 0.05; done'")
    won = value(ip, "%wsh idle --tag race --timeout-ms 200 --max-wait-ms 10000")
    assert (won.server, won.session) == ("deploy-1", "fast")
    won = value(ip, "%wsh idle --on deploy-1 --timeout-ms 200 --max-wait-ms 10000")
    assert (won.server, won.session) == ("deploy-1", "fast")


def _interrupt_wait(ip, cell: str):
    main = threading.main_thread().ident
    fired: list[float] = []

    def interrupt() -> None:
        fired.append(time.monotonic())
        signal.pthread_kill(main, signal.SIGINT)

    with default_sigint():
        timer = threading.Timer(0.6, interrupt)
        timer.start()
        try:
            result = run(ip, cell)
            returned = time.monotonic()
        finally:
            timer.cancel()
    assert fired and returned - fired[0] < 0.5, returned - fired[0]
    assert isinstance(result.error_in_exec, WshInterrupted) and not result.success
    assert not [t for t in threading.enumerate() if t.name == "wsh-magic-batch"]
    return result


SPIN = "trap 'echo GOT-INT; exec sleep 60' INT; while :; do echo tick; sleep 0.1; done"


def test_ctrl_c_during_wait_returns_fast_and_signals_the_session(ip, on_solo, capsys):
    value(ip, f'%wsh create spin --on solo --command "{SPIN}"')
    result = _interrupt_wait(ip, "%%wsh send spin --wait --max-wait-ms 20000\nx")
    assert result.error_in_exec.signalled == ["solo/spin"]
    assert "interrupted; sent Ctrl-C to solo/spin" in capsys.readouterr().out
    shows("spin@solo", "GOT-INT")


def test_ctrl_c_with_no_signal_on_interrupt_leaves_the_session_alone(ip, on_solo, capsys):
    value(ip, f'%wsh create spin --on solo --command "{SPIN}"')
    run(ip, "%config WshMagics.signal_on_interrupt = False")
    result = _interrupt_wait(ip, "%%wsh send spin --wait --max-wait-ms 20000\nx")
    assert result.error_in_exec.signalled == []
    assert "the sessions were left running (--no-signal-on-interrupt)" in capsys.readouterr().out
    assert "GOT-INT" not in get_hub().screen("spin", server="solo").text
    # the flag beats the configured default
    result = _interrupt_wait(ip, "%%wsh send spin --wait --signal-on-interrupt --max-wait-ms 20000\nx")
    assert result.error_in_exec.signalled == ["solo/spin"]
    shows("spin@solo", "GOT-INT")


# -- extension lifecycle ------------------------------------------------------------------------
def _threads(name: str) -> int:
    return sum(1 for t in threading.enumerate() if t.name == name)


def test_reload_ext_keeps_one_hub_and_its_sessions(ip, on_solo):
    hub = get_hub()
    value(ip, "%wsh create keeper --on solo --command 'sleep 30'")
    run(ip, "%config WshMagics.timeout_ms = 123")
    before = ip.magics_manager.registry["WshMagics"]
    assert _threads("wsh-hub") == 1
    for _ in range(3):
        assert run(ip, "%reload_ext wsh_nb").success
        assert run(ip, "%load_ext wsh_nb").success  # idempotent
    after = ip.magics_manager.registry["WshMagics"]
    assert after is not before and after.timeout_ms == 123
    assert sum(1 for c in ip.configurables if type(c).__name__ == "WshMagics") == 1
    assert get_hub() is hub and not hub.closed and _threads("wsh-hub") == 1
    assert list(value(ip, "%wsh sessions").name) == ["keeper"]
    assert list(value(ip, "%wsh servers").hostname)[1:] == ["solo"]


def test_unload_ext_closes_the_hub_and_load_makes_a_new_one(ip):
    hub = get_hub()
    assert run(ip, "%unload_ext wsh_nb").success
    assert hub.closed and _threads("wsh-hub") == 0
    assert not run(ip, "%wsh servers").success  # the magic is gone
    assert run(ip, "%load_ext wsh_nb").success
    assert get_hub() is not hub and _threads("wsh-hub") == 1


def test_help_question_mark_and_dashboard(ip, capsys):
    assert value(ip, "%wsh help") is None
    out = capsys.readouterr().out
    for sub in ("servers", "add", "remove", "server", "wait", "sessions", "create", "screen", "idle", "kill",
                "dashboard", "help", "send"):  # fmt: skip
        assert re.search(rf"^  {sub}\s", out, re.M), sub
    assert out.count("e.g. %") == 13
    assert value(ip, "%wsh help send") is None and "--no-newline" in capsys.readouterr().out
    assert value(ip, "%wsh create -h") is None and "--command" in capsys.readouterr().out
    assert "e.g. %wsh servers" in WshMagics.wsh.__doc__
    result = run(ip, "%wsh dashboard")
    assert result.success
    if result.result is None:
        assert "dashboard is not available" in capsys.readouterr().err
    else:
        assert type(result.result).__name__ == "ClusterDashboard"


def test_wait_shows_progress_in_place_unless_noninteractive(ip, spawn_server, monkeypatch, capsys):
    frozen = spawn_server("frozen")
    frozen.freeze()
    run(ip, f"%wsh add {frozen.url}")
    recorder = Recorder()
    monkeypatch.setattr(ip, "display_pub", recorder)
    assert not run(ip, "%wsh wait --timeout 0.6").success
    assert recorder.events == []  # WSH_NONINTERACTIVE=1: no progress
    monkeypatch.delenv("WSH_NONINTERACTIVE")
    assert not run(ip, "%wsh wait --timeout 0.6").success
    assert recorder.events and len({display_id for _, display_id, _ in recorder.events}) == 1
    first, *rest = recorder.events
    assert first[0]["text/plain"].startswith("waiting for backends") and not first[2]
    assert rest and all(update for _, _, update in rest)
    assert rest[-1][0]["text/plain"] == "not healthy in time"
    assert f"{RED}backends not healthy after 0.6 s" in capsys.readouterr().out
