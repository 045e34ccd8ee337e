"""The widgets against real backends: live health, mini-screens, input, paging, throttling, close()."""

from __future__ import annotations

import itertools
import time
import uuid

import pytest

from tests.helpers import wait_for
from wsh_nb.notebook.widgets import ClusterDashboard, SessionGrid, TerminalView
from wsh_nb.notebook.widgets.updater import MAX_RATE, Updater

from .conftest import widget_threads

SHELL = "bash --norc --noprofile"  # the user's rc files (pyenv rehash, prompts) are not under test


def marker(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# -- ClusterDashboard ---------------------------------------------------------------------------
def test_dashboard_lists_every_server_with_a_health_badge(hub, cluster):
    dash = ClusterDashboard(hub)
    try:
        wait_for(lambda: len(dash.entries) == 4, 5, message="four rows (self + three backends)")
        for name in cluster.hostnames:
            assert dash.health(name) == "healthy"
            assert f'data-hostname="{name}"' in dash.table.value
        assert dash.table.value.count("wsh-health-healthy") == 4
        assert set(dash.target.options) == set(cluster.hostnames)
    finally:
        dash.close()


def test_dashboard_fallbacks_are_readable_tables(hub, cluster):
    dash = ClusterDashboard(hub)
    try:
        wait_for(lambda: len(dash.entries) == 4, 5, message="four rows")
        bundle = dash._repr_mimebundle_()
        text, page = bundle["text/plain"], bundle["text/html"]
        assert text.splitlines()[0].split()[:3] == ["hostname", "health", "address"]
        for backend in cluster:
            assert backend.hostname in text and backend.url in text
            assert backend.hostname in page
        assert "VBox" not in text and "children" not in text
        assert "<table" in page and "wsh-badge" in page
    finally:
        dash.close()


def test_dashboard_shows_unavailable_within_3s_of_a_kill_and_healthy_after_restart(hub, cluster):
    dash = ClusterDashboard(hub)
    try:
        wait_for(lambda: dash.health("test-1") == "healthy", 5, message="test-1 healthy")
        killed = time.monotonic()
        cluster["test-1"].kill()
        wait_for(lambda: dash.health("test-1") == "unavailable", 3, message="test-1 unavailable in the model")
        assert time.monotonic() - killed < 3
        assert "wsh-health-unavailable" in dash.table.value
        assert dash.health("build-1") == "healthy"  # the others are untouched
        cluster["test-1"].start()
        wait_for(lambda: dash.health("test-1") == "healthy", 10, message="test-1 healthy after restart")
        wait_for(lambda: "wsh-health-unavailable" not in dash.table.value, 2, message="table refreshed")
    finally:
        dash.close()


def test_dashboard_buttons_add_wait_and_remove_without_echoing_the_token(hub, spawn_server):
    secret = "s3cret-" + uuid.uuid4().hex
    extra = spawn_server("extra-1", token=secret)
    dash = ClusterDashboard(hub)
    try:
        dash.address.value = extra.url
        dash.token.value = secret
        dash.add_button.click()
        wait_for(lambda: dash.health("extra-1") is not None, 5, message="extra-1 row")
        assert dash.token.value == ""  # cleared at once, not kept in widget state
        dash.target.value = "extra-1"
        dash.wait_button.click()
        wait_for(lambda: "extra-1: healthy" in dash.status.value, 10, message="wait healthy confirmed")
        assert dash.health("extra-1") == "healthy"
        shown = dash.table.value + dash.status.value + str(dash._repr_mimebundle_()) + repr(dash)
        assert secret not in shown
        dash.remove_button.click()
        wait_for(lambda: dash.health("extra-1") is None, 5, message="extra-1 removed from the table")
        assert "removed extra-1" in dash.status.value
    finally:
        dash.close()


def test_dashboard_add_reports_a_bad_address_in_its_status_line(hub):
    dash = ClusterDashboard(hub)
    try:
        dash.address.value = "ftp://nowhere"
        dash.add_button.click()
        wait_for(lambda: "add ftp://nowhere" in dash.status.value, 5, message="an error in the status line")
    finally:
        dash.close()


def test_updater_coalesces_a_burst_of_pokes_to_at_most_5_refreshes_a_second():
    calls: list[float] = []
    updater = Updater("wsh-dashboard-test", lambda: calls.append(time.monotonic()), rate=50).start()
    try:
        start = time.monotonic()
        while time.monotonic() - start < 1.0:
            updater.poke()
            time.sleep(0.001)
    finally:
        updater.close()
    assert 2 <= len(calls) <= MAX_RATE + 2
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert min(gaps) >= 1 / MAX_RATE - 0.02


# -- SessionGrid --------------------------------------------------------------------------------
def test_grid_shows_a_sessions_echo_output_labelled_server_slash_session(hub):
    text = marker("GRID")
    session = hub.create_session("echoer", server="build-1", tags=["grid"], command=SHELL)
    grid = SessionGrid(hub, tag="grid")
    try:
        session.send(f"echo {text}-$((6*7))\n")  # the output differs from the typed line
        wait_for(lambda: f"{text}-42" in grid.cards.get("build-1/echoer", ""), 5, message="the echo output")
        assert "<b>build-1/echoer</b>" in grid.cards["build-1/echoer"]
        assert any(text in child.value for child in grid.grid.children)  # what the front end gets
        wait_for(lambda: "wsh-state-idle" in grid.cards["build-1/echoer"], 5, message="idle state")
    finally:
        grid.close()
        session.kill()


def test_grid_sessions_appear_and_disappear(hub):
    grid = SessionGrid(hub, tag="churn")
    try:
        a = hub.create_session("churn-a", server="test-1", tags=["churn"], command="sleep 60")
        b = hub.create_session("churn-b", server="deploy-1", tags=["churn"], command="sleep 60")
        wait_for(lambda: set(grid.cards) == {"test-1/churn-a", "deploy-1/churn-b"}, 5, message="two cards")
        assert len(grid.grid.children) == 2
        a.kill()
        wait_for(lambda: set(grid.cards) == {"deploy-1/churn-b"}, 5, message="the killed card gone")
        assert len(grid.grid.children) == 1
        b.kill()
    finally:
        grid.close()


def test_grid_escapes_markup_and_keeps_colours(hub):
    session = hub.create_session("styled", server="build-1", tags=["esc"], command=SHELL)
    grid = SessionGrid(hub, tag="esc")
    try:
        session.send("printf '<b>bold?</b> \\033[31mRED\\033[0m\\n'\n")
        red = 'color:#cd0000">RED</span>'  # xterm red kept as a span colour
        wait_for(lambda: red in grid.cards.get("build-1/styled", ""), 5, message="the red output")
        card = grid.cards["build-1/styled"]
        assert "&lt;b&gt;bold?&lt;/b&gt;" in card and "<b>bold?</b>" not in card
    finally:
        grid.close()
        session.kill()


def test_grid_samples_a_yes_flood_without_blocking_the_caller(hub):
    flood = hub.create_session("flood", server="build-1", tags=["flood"], command="yes")
    grid = SessionGrid(hub, tag="flood", interval=0.2)
    try:
        wait_for(lambda: "y\ny" in grid.cards.get("build-1/flood", "").replace("</span>", ""), 5, message="y")
        start_refreshes, start = grid._updater.refreshes, time.monotonic()
        for _ in range(20):  # the caller (the kernel's main thread) stays responsive
            t = time.monotonic()
            hub.servers()
            assert time.monotonic() - t < 1.0
        time.sleep(max(0.0, 1.0 - (time.monotonic() - start)))
        rate = (grid._updater.refreshes - start_refreshes) / (time.monotonic() - start)
        assert rate <= MAX_RATE + 1
        assert "wsh-state-running" in grid.cards["build-1/flood"]
    finally:
        grid.close()
        flood.kill()


def test_grid_keeps_the_cards_of_a_dead_server_marked_unavailable(hub, cluster):
    hub.create_session("doomed", server="deploy-1", tags=["dead"], command="sleep 60")
    grid = SessionGrid(hub, tag="dead")
    try:
        wait_for(lambda: "deploy-1/doomed" in grid.cards, 5, message="the card")
        cluster["deploy-1"].kill()
        wait_for(
            lambda: "wsh-state-unavailable" in grid.cards.get("deploy-1/doomed", ""), 5, message="unavailable"
        )
        wait_for(lambda: "unavailable: deploy-1" in grid.header.value, 5, message="the header names it")
    finally:
        grid.close()


def test_a_frozen_server_stalls_only_its_own_cards(hub, cluster):
    live = hub.create_session("live", server="build-1", tags=["frz"], command=SHELL)
    hub.create_session("stuck", server="test-1", tags=["frz"], command="sleep 60")
    grid = SessionGrid(hub, tag="frz")
    try:
        wait_for(lambda: len(grid.cards) == 2, 5, message="two cards")
        cluster["test-1"].freeze()  # SIGSTOP: connections stay open, nothing answers
        for i in range(3):
            live.send(f"echo frz-{i}-$((5*5))\n")
            wait_for(
                lambda i=i: f"frz-{i}-25" in grid.cards["build-1/live"], 3, message=f"build-1 card, tick {i}"
            )
        wait_for(lambda: "wsh-state-unavailable" in grid.cards["test-1/stuck"], 5, message="stuck marked")
    finally:
        cluster["test-1"].thaw()
        grid.close()
        live.kill()


def test_grid_fallbacks_show_text_and_cards(hub):
    text = marker("FALLBACK")
    session = hub.create_session("fb", server="test-1", tags=["fb"], command=f"echo {text}; sleep 60")
    grid = SessionGrid(hub, tag="fb")
    try:
        wait_for(lambda: text in grid.cards.get("test-1/fb", ""), 5, message="the marker")
        bundle = grid._repr_mimebundle_()
        assert "test-1/fb" in bundle["text/plain"] and text in bundle["text/plain"]
        assert text in bundle["text/html"] and "wsh-card" in bundle["text/html"]
    finally:
        grid.close()
        session.kill()


# -- TerminalView -------------------------------------------------------------------------------
def test_terminal_view_enter_sends_the_line_and_the_screen_follows(hub):
    text = marker("TV")
    session = hub.create_session("tv", server="build-1", command=SHELL)
    view = TerminalView(session)
    try:
        view.input.value = f"echo {text}-$((6*7))"
        view.input._handle_custom_msg({"event": "submit"}, [])  # what the front end sends on Enter
        assert view.input.value == ""
        wait_for(lambda: f"{text}-42" in view.view.value, 5, message="the echo output on the screen")
        assert "build-1/tv" in view.header.value
    finally:
        view.close()
        session.kill()


def test_terminal_view_ctrl_c_and_tab_buttons(hub):
    session = hub.create_session("keys", server="test-1", command=SHELL)
    view = TerminalView(session)
    try:
        view.input.value = "sleep 30"
        view.submit()
        time.sleep(0.3)
        view.ctrl_c.click()
        view.input.value = "echo back-$((40+2))"
        view.submit()
        wait_for(lambda: "back-42" in view.view.value, 5, message="^C interrupted sleep 30")
        view.input.value = "cat -A"
        view.submit()
        view.tab.click()
        view.input.value = "x"
        view.submit()
        wait_for(lambda: "^Ix$" in view.view.value, 5, message="cat -A showing the Tab as ^I")
        view.ctrl_c.click()
    finally:
        view.close()
        session.kill()


def test_terminal_view_pages_through_scrollback(hub):
    session = hub.create_session("pager", server="deploy-1", command="seq 1 300; sleep 60")
    view = TerminalView(session, page=50)
    try:
        wait_for(lambda: "300" in view.view.value, 5, message="seq output on the live screen")
        page = view.older()
        assert view.offset is not None and len(page.lines) == 50
        assert "scrollback lines" in view.page_label.value
        first = view.offset
        page = view.older()
        assert view.offset == max(0, first - 50)
        assert page.lines[0] == str(view.offset + 1) or page.lines  # seq's lines are the history
        live_before = view._updater.refreshes
        time.sleep(0.6)
        assert "scrollback lines" in view.page_label.value  # the updater does not clobber the page
        assert view._updater.refreshes > live_before
        view.newer()
        while view.offset is not None:
            view.newer()
        wait_for(lambda: "300" in view.view.value, 5, message="back on the live screen")
        assert view.page_label.value == ""
    finally:
        view.close()
        session.kill()


def test_terminal_view_marks_an_ended_session_gone(hub):
    session = hub.create_session("short", server="build-1", command="sleep 60")
    view = TerminalView(session)
    try:
        wait_for(lambda: view.screen is not None, 5, message="a first screen")
        session.kill()
        wait_for(lambda: view.state == "gone", 5, message="gone")
        assert "ended" in view.header.value
    finally:
        view.close()


# -- close() ------------------------------------------------------------------------------------
def test_close_stops_every_updater_thread_and_the_widget_comms(hub):
    session = hub.create_session("closing", server="build-1", tags=["closing"], command=SHELL)
    widgets = [ClusterDashboard(hub), SessionGrid(hub, tag="closing"), TerminalView(session)]
    try:
        assert len(widget_threads()) >= 3
        wait_for(lambda: all(w._updater.refreshes for w in widgets), 5, message="each updater ran")
    finally:
        for widget in widgets:
            widget.close()
    assert widget_threads() == []
    for widget in widgets:
        assert widget.comm is None
        assert widget._updater.stopped
    counts = [w._updater.refreshes for w in widgets]
    time.sleep(0.5)
    assert [w._updater.refreshes for w in widgets] == counts
    session.kill()


def test_widgets_stop_by_themselves_when_the_hub_closes(cluster):
    from wsh_nb.notebook.facade import Hub

    h = Hub(hostname="short-lived")
    dash = ClusterDashboard(h)
    wait_for(lambda: dash._updater.refreshes, 5, message="a refresh")
    h.close()
    wait_for(lambda: not dash._updater.thread.is_alive(), 5, message="the updater stopped with the hub")
    dash.close()  # still fine afterwards


@pytest.mark.parametrize("cls", [ClusterDashboard, SessionGrid])
def test_close_is_idempotent(hub, cls):
    widget = cls(hub)
    widget.close()
    widget.close()
