"""The rules one evaluate() call must decide: a set of rule indices kept in native vectors."""

from __future__ import annotations

from librt.vecs import append, vec
from mypy_extensions import i64


class Wake:
    """Rule indices to evaluate, each once, in O(1) per add and without boxing an int.

    A rule is in the set when its mark equals the current stamp, so starting a new set is one
    increment, not a clear. `everything` stands for every rule (the periodic full sweep).
    """

    __slots__ = ("mark", "stamp", "todo", "size", "everything")

    def __init__(self, n_rules: int) -> None:
        self.mark = vec[i64]([0] * n_rules)
        self.stamp: i64 = 0
        self.todo = vec[i64]()
        self.size = 0  # todo[:size] is the set; later slots are reused before the vec grows
        self.everything = False

    def begin(self) -> None:
        self.stamp += 1
        self.size = 0
        self.everything = False

    def add(self, i: int) -> None:
        if self.mark[i] != self.stamp:
            self.mark[i] = self.stamp
            self._push(i)

    def add_all(self, rules: tuple[int, ...]) -> None:
        mark, stamp = self.mark, self.stamp
        for i in rules:
            if mark[i] != stamp:
                mark[i] = stamp
                self._push(i)

    def _push(self, i: int) -> None:
        k = self.size
        if k < len(self.todo):
            self.todo[k] = i
        else:
            self.todo = append(self.todo, i)
        self.size = k + 1

    def count(self) -> int:
        return len(self.mark) if self.everything else self.size

    def at(self, k: int) -> int:
        return k if self.everything else self.todo[k]
