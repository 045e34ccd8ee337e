"""The magics in a real ipykernel, driven through jupyter_client: errors, values, live displays, interrupt."""

from __future__ import annotations

import os
import queue
import time

import pytest

jupyter_client = pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")

from jupyter_client import KernelManager  # noqa: E402


@pytest.fixture
def kernel():
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env={**os.environ, "WSH_NONINTERACTIVE": "1"})
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=30)
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def execute(kc, code: str, timeout: float = 30.0) -> tuple[dict, list[dict]]:
    """Run ``code``; returns (execute_reply content, iopub messages of that execution)."""
    seen: list[dict] = []
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=seen.append, allow_stdin=False)
    return reply["content"], seen


def texts(messages: list[dict]) -> str:
    out = []
    for msg in messages:
        content = msg["content"]
        if msg["msg_type"] == "stream":
            out.append(content["text"])
        elif msg["msg_type"] in ("execute_result", "display_data", "update_display_data"):
            out.append(content["data"].get("text/plain", ""))
    return "\n".join(out)


def test_magics_in_a_real_kernel(kernel, server):
    _, kc = kernel
    reply, _ = execute(kc, "%load_ext wsh_nb")
    assert reply["status"] == "ok"
    reply, msgs = execute(kc, f"%wsh add {server.url} --wait\ndf = %wsh servers\nprint(sorted(df.hostname))")
    assert reply["status"] == "ok" and "'solo'" in texts(msgs)

    # one red line, no traceback, the cell is an error
    reply, msgs = execute(kc, "%wsh server build-9")
    assert reply["status"] == "error" and reply["ename"] == "ServerNotFound"
    errors = [m["content"] for m in msgs if m["msg_type"] == "error"]
    assert len(errors) == 1 and errors[0]["traceback"] == [  # WSH_NONINTERACTIVE: no colour either
        "server 'build-9' is not registered; registered: solo — pick one, or register it with %wsh add URL"
    ]
    reply, msgs = execute(kc, "%wsh sessions --tag none-such")  # an empty listing is not an error
    assert reply["status"] == "ok" and "Empty DataFrame" in texts(msgs)

    # values, and $HOME reaching the remote shell
    execute(kc, "%wsh create k --on solo --env HOME=/kernel-remote --command 'echo \"[$HOME]\"; sleep 30'")
    reply, msgs = execute(kc, "%wsh idle k --timeout-ms 200")
    assert reply["status"] == "ok"
    result = next(m["content"]["data"] for m in msgs if m["msg_type"] == "execute_result")
    assert result["text/plain"].startswith("--- solo/k: idle") and "[/kernel-remote]" in result["text/plain"]
    assert "wsh-panel" in result["text/html"]

    # %reload_ext: the same hub, one loop thread, the session still there
    code = (
        "import threading, wsh_nb\nh = wsh_nb.get_hub()\n%reload_ext wsh_nb\n"
        "print(wsh_nb.get_hub() is h, sum(t.name == 'wsh-hub' for t in threading.enumerate()))\n"
        "frame = %wsh sessions\nprint(list(frame.name))"
    )
    reply, msgs = execute(kc, code)
    assert reply["status"] == "ok", reply
    assert "True 1" in texts(msgs) and "['k']" in texts(msgs)


def test_live_areas_and_kernel_interrupt(kernel, server):
    km, kc = kernel
    execute(kc, "import os; os.environ.pop('WSH_NONINTERACTIVE', None)\n%load_ext wsh_nb")
    execute(kc, f"%wsh add {server.url} --wait")
    script = "trap 'echo GOT-INT; exec sleep 60' INT; while :; do echo tick; sleep 0.1; done"
    execute(kc, f'%wsh create spin --on solo --tag t --command "{script}"')

    msg_id = kc.execute("%%wsh send --tag t --wait --max-wait-ms 20000\nx")
    ids: set[str] = set()
    updated = False
    deadline = time.monotonic() + 20
    while not updated:  # the area exists and is being updated in place with the live screen
        assert time.monotonic() < deadline, "no live update of the output area"
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "display_data":
            ids.add(msg["content"]["transient"]["display_id"])
            assert msg["content"]["data"]["text/plain"].startswith("--- solo/spin")
        elif msg["msg_type"] == "update_display_data":
            assert msg["content"]["transient"]["display_id"] in ids
            updated = "tick" in msg["content"]["data"]["text/plain"]
    assert len(ids) == 1

    interrupted = time.monotonic()
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=10)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=10)
    assert time.monotonic() - interrupted < 2.0
    content = reply["content"]
    assert content["status"] == "error" and content["ename"] == "WshInterrupted"
    assert content["traceback"] == ["\x1b[31minterrupted; sent Ctrl-C to solo/spin\x1b[0m"]
    code = (
        "import time\nfor _ in range(500):\n    s = get_ipython().run_line_magic('wsh', 'screen spin')\n"
        "    if 'GOT-INT' in s.text:\n        break\n    time.sleep(0.02)\nprint('GOT-INT' in s.text)"
    )
    reply, msgs = execute(kc, code)
    assert "True" in texts(msgs), reply
