"""A bounded list of problems: the first few listed, the rest counted."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.errors import Problem


class CappedProblems:
    """Keeps the first ``limit`` problems added; of the rest, only how many and where the first one is."""

    def __init__(self, display: str, limit: int) -> None:
        self.display = display
        self.limit = limit
        self.shown: list[Problem] = []
        self.first_unlisted: Problem | None = None
        self.unlisted = 0

    def add(self, problem: Problem) -> None:
        if len(self.shown) < self.limit:
            self.shown.append(problem)
            return
        if self.first_unlisted is None:
            self.first_unlisted = problem
        self.unlisted += 1

    def listed(self) -> list[Problem]:
        """The problems kept, then one that counts the rest from where they start."""
        first = self.first_unlisted
        if first is None:
            return list(self.shown)
        message = f"{self.unlisted} more problems from here on are not listed"
        return [*self.shown, Problem(self.display, first.line, first.column, first.field, message)]

    def listed_with(self, others: Sequence[Problem], others_count: int) -> list[Problem]:
        """What :meth:`listed` gives had ``others_count`` more problems been added at their place in line order
        (problems are added as a file is read, line by line), given ``others``: the first ``limit + 1`` of them
        by position, or all when fewer."""
        kept = [*self.shown, *([self.first_unlisted] if self.first_unlisted is not None else []), *others]
        candidates = sorted(kept, key=lambda p: (p.line, p.column))
        total = len(self.shown) + self.unlisted + others_count
        if total <= self.limit:
            return candidates
        first = candidates[self.limit]
        message = f"{total - self.limit} more problems from here on are not listed"
        return [*candidates[: self.limit], Problem(self.display, first.line, first.column, first.field, message)]
