"""A text stream that only counts what is written to it: where a benchmark streams output (a plan's JSON, as the
CLI writes it) whose size is all it needs."""

from __future__ import annotations


class Sink:
    """A text stream that only counts what is written to it."""

    def __init__(self) -> None:
        self.chars = 0

    def write(self, text: str) -> int:
        self.chars += len(text)
        return len(text)
