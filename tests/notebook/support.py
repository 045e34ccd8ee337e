"""Test support: kernel interrupts (a real SIGINT to the main thread) and the shell sessions run.

Sessions run ``sh`` rather than the default interactive shell: on this machine root's ``.bashrc`` (pyenv
init) can take a minute to reach a prompt under load, which is the environment's cost, not the hub's.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SH = "sh"  # an interactive /bin/sh: quick to a prompt


@contextmanager
def default_sigint() -> Iterator[None]:
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def interrupt_main_after(delay: float) -> threading.Timer:
    """SIGINT to the main thread after ``delay`` s, the way a kernel interrupt arrives."""
    main = threading.main_thread().ident
    assert main is not None
    timer = threading.Timer(delay, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    return timer
