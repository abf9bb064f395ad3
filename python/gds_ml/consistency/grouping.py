"""Which results agree: exact comparisons where needed, triangle-inequality bounds everywhere else.

Every result is compared exactly with an anchor (the first valid result). For two other results B and C, the max
norm and the L2 norm both obey |d(A,B) - d(A,C)| <= d(B,C) <= d(A,B) + d(A,C), tensor by tensor, so honest results
(whose distances to the anchor are far below the tolerance) are proven to agree without loading them again, and
results far apart are proven to disagree. Only pairs the bounds leave open need another exact comparison; the
engine then makes the result in most open pairs a new anchor. Agreement is not transitive, so groups are cliques:
sets of results that agree pairwise.
"""
import math
from dataclasses import dataclass
from typing import Iterator, Optional

from gds_ml.consistency.schemas import TensorDistance, Tolerance

__all__ = ['Evidence', 'AgreementGraph', 'largest_groups']

# Bron-Kerbosch visits at most this many nodes; past it the search keeps the best group found so far. Groups of
# results are small (replication <= 64) and nearly always one clique plus outliers, where it visits a handful.
_MAX_SEARCH_STEPS = 200_000


@dataclass(frozen=True)
class Evidence:
    """Why two results disagree: on which tensor, by which measure, how far (or at least how far)."""

    tensor: int
    measure: str  # 'max_abs' or 'relative_l2'
    value: float
    limit: float
    is_lower_bound: bool


class AgreementGraph:
    """Pairwise agreement between valid results, from exact distances and the bounds they imply."""

    def __init__(self, numels: list[int], tolerance: Tolerance) -> None:
        self._numels = numels
        self._tolerance = tolerance
        self.norms: dict[int, list[float]] = {}
        self._exact: dict[tuple[int, int], list[TensorDistance]] = {}
        self._anchors: list[int] = []

    @property
    def members(self) -> list[int]:
        return sorted(self.norms)

    @property
    def anchors(self) -> list[int]:
        return list(self._anchors)

    def add_member(self, index: int, norms: list[float]) -> None:
        self.norms[index] = norms

    def add_anchor(self, index: int) -> None:
        if index not in self._anchors:
            self._anchors.append(index)

    def record(self, left: int, right: int, distances: list[TensorDistance]) -> None:
        self._exact[_pair(left, right)] = distances

    def exact(self, left: int, right: int) -> Optional[list[TensorDistance]]:
        return self._exact.get(_pair(left, right))

    def decide(self, left: int, right: int) -> tuple[Optional[bool], Optional[Evidence]]:
        """(True, None) agree, (False, evidence) disagree, (None, None) when the bounds cannot tell."""
        exact = self.exact(left, right)
        if exact is not None:
            evidence = self._worst_violation(left, right, [(d.max_abs, d.l2) for d in exact], False)
            return evidence is None, evidence

        lows, highs = self._bounds(left, right)
        if lows is None or highs is None:
            return None, None
        evidence = self._worst_violation(left, right, lows, True)
        if evidence is not None:
            return False, evidence
        if self._worst_violation(left, right, highs, False) is None:
            return True, None
        return None, None

    def open_pairs(self) -> list[tuple[int, int]]:
        members = self.members
        return [(a, b) for i, a in enumerate(members) for b in members[i + 1:] if self.decide(a, b)[0] is None]

    def neighbours(self) -> dict[int, set[int]]:
        members = self.members
        found: dict[int, set[int]] = {member: set() for member in members}
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                if self.decide(a, b)[0]:
                    found[a].add(b)
                    found[b].add(a)
        return found

    def relative_l2(self, left: int, right: int, tensor: int, l2: float) -> float:
        return l2 / self._denominator(left, right, tensor)

    def _denominator(self, left: int, right: int, tensor: int) -> float:
        floor = math.sqrt(self._numels[tensor]) * self._tolerance.max_abs_diff
        return max(self.norms[left][tensor], self.norms[right][tensor], floor) or 1.0

    def _bounds(self, left: int, right: int) -> tuple[Optional[list[tuple[float, float]]],
                                                      Optional[list[tuple[float, float]]]]:
        lows: Optional[list[tuple[float, float]]] = None
        highs: Optional[list[tuple[float, float]]] = None
        for anchor in self._anchors:
            to_left, to_right = self.exact(anchor, left), self.exact(anchor, right)
            if to_left is None or to_right is None:
                continue
            low = [(abs(a.max_abs - b.max_abs), abs(a.l2 - b.l2)) for a, b in zip(to_left, to_right)]
            high = [(a.max_abs + b.max_abs, a.l2 + b.l2) for a, b in zip(to_left, to_right)]
            lows = low if lows is None else [(max(x[0], y[0]), max(x[1], y[1])) for x, y in zip(lows, low)]
            highs = high if highs is None else [(min(x[0], y[0]), min(x[1], y[1])) for x, y in zip(highs, high)]
        return lows, highs

    def _worst_violation(self, left: int, right: int, values: list[tuple[float, float]],
                         is_lower_bound: bool) -> Optional[Evidence]:
        """The tensor and measure exceeding its limit by the largest factor, or None when none does."""
        worst: Optional[Evidence] = None
        worst_ratio = 1.0
        for tensor, (max_abs, l2) in enumerate(values):
            relative = self.relative_l2(left, right, tensor, l2)
            for measure, value, limit in (('max_abs', max_abs, self._tolerance.max_abs_diff),
                                          ('relative_l2', relative, self._tolerance.relative_l2)):
                ratio = value / limit if limit > 0 else (math.inf if value > 0 else 0.0)
                if value > limit and ratio > worst_ratio:
                    worst, worst_ratio = Evidence(tensor, measure, value, limit, is_lower_bound), ratio
        return worst


def largest_groups(neighbours: dict[int, set[int]]) -> list[frozenset[int]]:
    """Every maximum clique of the agreement graph (Bron-Kerbosch with pivoting), in a stable order."""
    if not neighbours:
        return []
    best: list[frozenset[int]] = []
    steps = 0

    def expand(group: set[int], candidates: set[int], excluded: set[int]) -> Iterator[frozenset[int]]:
        nonlocal steps
        steps += 1
        if not candidates and not excluded:
            yield frozenset(group)
            return
        if steps > _MAX_SEARCH_STEPS:
            return
        pivot = max(candidates | excluded, key=lambda node: len(neighbours[node] & candidates))
        for node in sorted(candidates - neighbours[pivot]):
            yield from expand(group | {node}, candidates & neighbours[node], excluded & neighbours[node])
            candidates = candidates - {node}
            excluded = excluded | {node}

    for clique in expand(set(), set(neighbours), set()):
        if not best or len(clique) > len(best[0]):
            best = [clique]
        elif len(clique) == len(best[0]):
            best.append(clique)
    return sorted(best, key=sorted)


def _pair(left: int, right: int) -> tuple[int, int]:
    return (left, right) if left < right else (right, left)
