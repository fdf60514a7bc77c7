"""One item made ahead: a producer iterated in a background thread, at most one item ahead of
its consumer, so the consumer's work on an item overlaps the making of the next.

The runner uses it to read and segment the next window of articles while the current one is
generated and stored. The producer runs entirely in the thread (created, iterated and closed
there), so what it opens (a SQLite connection, temp files) belongs to that thread alone; its
exceptions reach the consumer, in order, when the consumer asks for the item that raised.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

TICK_S = 0.5  # the longest the consumer blocks in one wait (interrupts are seen between waits)
JOIN_S = 30.0  # how long close() waits for the producer to finish the item it is making


class Ahead(Generic[T]):
    """Iterate ``produce(stopping)`` one item ahead in a thread named ``name``. ``stopping()``
    turns true once the consumer has closed: a producer checks it between steps to stop early.
    Holds at most two items: the one the consumer has and the one being made."""

    def __init__(self, produce: Callable[[Callable[[], bool]], Iterator[T]], name: str):
        self._stop = threading.Event()
        self._asks: queue.SimpleQueue[bool] = queue.SimpleQueue()
        self._answers: queue.SimpleQueue[tuple[str, object]] = queue.SimpleQueue()
        self._asked = False
        self._finished = False
        self._thread = threading.Thread(target=self._work, args=(produce,), name=name, daemon=True)
        self._thread.start()

    def _work(self, produce: Callable[[Callable[[], bool]], Iterator[T]]) -> None:
        items = produce(self._stop.is_set)
        try:
            while self._asks.get() and not self._stop.is_set():
                try:
                    item = next(items)
                except StopIteration:
                    self._answers.put(("end", None))
                    return
                except BaseException as exc:  # handed to the consumer, raised there
                    self._answers.put(("error", exc))
                    return
                self._answers.put(("item", item))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        if not self._asked:
            self._asks.put(True)
        kind, value = self._wait()
        if kind == "item":
            self._asks.put(True)  # the next one is made while the caller works on this one
            self._asked = True
            return value  # type: ignore[return-value]
        self._finished = True
        if kind == "error":
            raise value  # type: ignore[misc]
        raise StopIteration

    def _wait(self) -> tuple[str, object]:
        while True:
            try:
                return self._answers.get(timeout=TICK_S)
            except queue.Empty:
                if not self._thread.is_alive():
                    try:  # it may have answered just before it ended
                        return self._answers.get_nowait()
                    except queue.Empty:
                        raise RuntimeError(f"{self._thread.name} ended without an answer") from None

    def close(self) -> None:
        """Stop the producer (after the step it is on) and wait for it to close its source."""
        self._finished = True
        self._stop.set()
        self._asks.put(False)
        if self._thread is not threading.current_thread():
            self._thread.join(JOIN_S)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()
