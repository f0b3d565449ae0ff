"""Progress of a build: each step's duration, and inside a long step a heartbeat line with the elapsed time and the
transformation running.

finn-plus prints ``Running step: <name> [k/n]`` when a step starts, then nothing until it ends; ``step_streamline``
of a bitwise ABC(3,3) CNV ran 11.5 minutes without a line. :func:`step_progress` wraps one step: a daemon thread
prints ``[finn_flow] <step>: still running, <elapsed>, transformation <name>`` every ``heartbeat_s`` seconds, where
the transformation is the innermost ``ModelWrapper.transform`` running at that moment (recorded by wrapping that
method for the duration of the step), and a last line gives the step's time.
"""
from __future__ import annotations

import contextlib
import threading
import time


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{seconds:.1f} s"


@contextlib.contextmanager
def _recording_transformations(stack: list[str]):
    """Push the class name of every transformation ``ModelWrapper.transform`` applies while inside."""
    from qonnx.core.modelwrapper import ModelWrapper

    original = ModelWrapper.transform

    def transform(self, transformation, *args, **kwargs):
        stack.append(type(transformation).__name__)
        try:
            return original(self, transformation, *args, **kwargs)
        finally:
            stack.pop()

    ModelWrapper.transform = transform
    try:
        yield
    finally:
        ModelWrapper.transform = original


@contextlib.contextmanager
def step_progress(name: str, heartbeat_s: float | None = 30.0, emit=None):
    """Report step ``name``: heartbeat lines every ``heartbeat_s`` seconds while it runs (None or 0: none), and its
    duration at the end. ``emit(line)`` prints them (default: ``print(line, flush=True)``)."""
    emit = emit or (lambda line: print(line, flush=True))
    start = time.perf_counter()
    stack: list[str] = []
    done = threading.Event()

    def beat():
        while not done.wait(heartbeat_s):
            running = stack[-1] if stack else "none (the step's own code)"
            emit(f"[finn_flow] {name}: still running, {_elapsed(time.perf_counter() - start)}, "
                 f"transformation {running}")

    thread = threading.Thread(target=beat, name=f"finn_flow heartbeat {name}", daemon=True) if heartbeat_s else None
    with _recording_transformations(stack):
        if thread is not None:
            thread.start()
        try:
            yield
        finally:
            done.set()
            if thread is not None:
                thread.join()
    emit(f"[finn_flow] {name} done in {_elapsed(time.perf_counter() - start)}")
