"""One consistency check over files on disk, fed as they arrive; at most two results are in memory at any time.

The first valid result becomes the anchor and stays loaded while every later one is loaded, checked and compared
with it, then dropped. finish() releases the anchor, settles whatever pairs the anchor's bounds leave open by
loading two results at a time (see grouping), and picks the largest group of agreeing results.
"""
import logging
import time
from collections import Counter
from dataclasses import dataclass
from itertools import combinations
from typing import Iterator, Optional, Union

from gds_ml.consistency.grouping import AgreementGraph, Evidence, largest_groups
from gds_ml.consistency.schemas import (CheckOutcome, CheckStats, Rejection, ResultOutcome, Rule, Structure,
                                        Tolerance, Verdict)
from gds_ml.consistency.structure import StructuralError, model_structure
from gds_ml.consistency.tensors import LoadedResult, compare, load_result, measure, measure_against

__all__ = ['ResultInput', 'ConsistencyEngine', 'check_files']

Logger = Union[logging.Logger, logging.LoggerAdapter]


@dataclass(frozen=True)
class ResultInput:
    execution_id: str
    sha256: str = ''


class ConsistencyEngine:
    def __init__(self, results: list[ResultInput], tolerance: Tolerance, quorum: int,
                 log: Optional[Logger] = None) -> None:
        self._inputs = results
        self._tolerance = tolerance
        self._quorum = max(1, quorum)
        self._log = log or logging.getLogger('gds_ml.consistency')
        self._outcomes = [ResultOutcome(result.execution_id, result.sha256) for result in results]
        self._paths: dict[int, str] = {}
        self._structure: Optional[Structure] = None
        self._keys: list[str] = []
        self._model_format = ''
        self._model_error: Optional[str] = None
        self._graph: Optional[AgreementGraph] = None
        self._anchor: Optional[tuple[int, LoadedResult]] = None
        self.stats = CheckStats()

    def set_model(self, path: str) -> None:
        with self._busy():
            try:
                structure, model_format = model_structure(path)
            except StructuralError as error:
                self._model_error = str(error)
                self._log.warning('check.model_unreadable', extra={'reason': self._model_error})
                return

            self._structure, self._keys, self._model_format = structure, list(structure), model_format.value
            self._graph = AgreementGraph([spec.numel for spec in structure.values()], self._tolerance)
            self._log.info('check.model_read', extra={'format': self._model_format, 'tensors': len(structure)})

    def add_result(self, index: int, path: str) -> None:
        """Checks the result at `index` (header order) against the model and compares it with the anchor."""
        self._paths[index] = path
        if self._structure is None or self._graph is None:
            return

        with self._busy():
            try:
                self._admit(index)
            except Rejection as rejection:
                self._reject(index, rejection.rule, rejection.reason)

    def finish(self) -> CheckOutcome:
        with self._busy():
            self._anchor = None
            if self._graph is None:
                return self._unverifiable()

            self._settle_open_pairs(self._graph)
            return self._verdict(self._graph)

    # -- admission ---------------------------------------------------------------------------------------------

    def _admit(self, index: int) -> None:
        assert self._structure is not None and self._graph is not None
        loaded = self._load(index)

        if self._anchor is None:
            norms = measure(loaded, self._keys)
            self._anchor = (index, loaded)
            self._graph.add_anchor(index)
        else:
            anchor_index, anchor = self._anchor
            norms, distances = measure_against(anchor, loaded, self._keys)
            self.stats.comparisons += 1
            self._graph.record(anchor_index, index, distances)
        self._graph.add_member(index, norms)

    def _load(self, index: int) -> LoadedResult:
        assert self._structure is not None
        self.stats.loads += 1
        return load_result(self._paths[index], self._structure)

    def _reject(self, index: int, rule: Rule, reason: str) -> None:
        outcome = self._outcomes[index]
        outcome.rule, outcome.reason = rule, reason
        self._log.info('check.result_rejected', extra={'executionId': outcome.execution_id, 'rule': rule.value,
                                                       'reason': reason})

    # -- open pairs --------------------------------------------------------------------------------------------

    def _settle_open_pairs(self, graph: AgreementGraph) -> None:
        """Makes the result in most open pairs an anchor until the bounds decide every pair."""
        for _ in range(len(graph.members)):
            open_pairs = graph.open_pairs()
            if not open_pairs:
                return
            counts = Counter(member for pair in open_pairs for member in pair)
            anchor = min(counts, key=lambda member: (-counts[member], member))
            others = sorted(set(counts) - {anchor})
            self._log.info('check.new_anchor', extra={'anchor': self._outcomes[anchor].execution_id,
                                                      'openPairs': len(open_pairs)})
            self._compare_with(graph, anchor, others)

    def _compare_with(self, graph: AgreementGraph, anchor: int, others: list[int]) -> None:
        """Exact comparisons of `anchor` with `others`, holding two results at a time."""
        missing = [other for other in others if other != anchor and graph.exact(anchor, other) is None]
        graph.add_anchor(anchor)
        if not missing:
            return

        reference = self._load(anchor)
        for other in missing:
            graph.record(anchor, other, compare(reference, self._load(other)))
            self.stats.comparisons += 1

    # -- verdict -----------------------------------------------------------------------------------------------

    def _verdict(self, graph: AgreementGraph) -> CheckOutcome:
        groups = largest_groups(graph.neighbours())
        size = len(groups[0]) if groups else 0
        is_tied = any(a.isdisjoint(b) for a, b in combinations(groups, 2))

        if size < self._quorum or is_tied:
            why = (f'{len(groups)} separate groups of {size} agreeing results contradict each other' if is_tied and
                   size >= self._quorum else
                   f'no group of agreeing results reaches the quorum of {self._quorum} (the largest has {size})')
            self._mark_no_quorum(graph, why)
            return self._outcome(Verdict.INCONSISTENT, '', size)

        group = groups[0]
        canonical = min((member for member in group if member in graph.anchors), default=min(group))
        self._compare_with(graph, canonical, graph.members)
        for member in graph.members:
            self._mark_against_canonical(graph, member, canonical, group)
        return self._outcome(Verdict.CONSISTENT, self._outcomes[canonical].execution_id, size)

    def _mark_against_canonical(self, graph: AgreementGraph, member: int, canonical: int,
                                group: frozenset[int]) -> None:
        outcome = self._outcomes[member]
        if member == canonical:
            outcome.accepted, outcome.max_abs_diff, outcome.relative_l2 = True, 0.0, 0.0
            return

        distances = graph.exact(canonical, member) or []
        outcome.max_abs_diff = max((d.max_abs for d in distances), default=0.0)
        outcome.relative_l2 = max((graph.relative_l2(canonical, member, tensor, d.l2)
                                   for tensor, d in enumerate(distances)), default=0.0)
        if member in group:
            outcome.accepted = True
            return

        outcome.rule = Rule.OUT_OF_TOLERANCE
        agrees, evidence = graph.decide(canonical, member)
        if not agrees and evidence is not None:
            outcome.reason = self._describe(evidence, 'the canonical result')
            return
        # Not in the largest group yet agreeing with the canonical result: it disagrees with another member.
        for peer, peer_evidence in self._disagreeing_members(graph, member, group):
            outcome.reason = (f'agrees with the canonical result but not with {self._outcomes[peer].execution_id} '
                              f'of the canonical group: {self._describe(peer_evidence, "it")}')
            return
        outcome.reason = 'not in the canonical group'

    def _disagreeing_members(self, graph: AgreementGraph, member: int,
                             group: frozenset[int]) -> Iterator[tuple[int, Evidence]]:
        for peer in sorted(group):
            agrees, evidence = graph.decide(peer, member)
            if agrees is False and evidence is not None:
                yield peer, evidence

    def _mark_no_quorum(self, graph: AgreementGraph, why: str) -> None:
        for member in graph.members:
            outcome = self._outcomes[member]
            outcome.rule, outcome.reason = Rule.NO_QUORUM, why
            closest = self._closest_disagreement(graph, member)
            if closest is not None:
                peer, evidence = closest
                outcome.reason += f'; closest checked result {self._outcomes[peer].execution_id}: ' + \
                    self._describe(evidence, 'it')

    def _closest_disagreement(self, graph: AgreementGraph, member: int) -> Optional[tuple[int, Evidence]]:
        """The result nearest to `member` (by max abs diff) among those compared with it exactly."""
        candidates = []
        for peer in graph.members:
            distances = graph.exact(member, peer) if peer != member else None
            if distances is None:
                continue
            _, evidence = graph.decide(member, peer)
            if evidence is not None:
                candidates.append((max(d.max_abs for d in distances), peer, evidence))
        if not candidates:
            return None
        _, peer, evidence = min(candidates, key=lambda candidate: candidate[:2])
        return peer, evidence

    def _describe(self, evidence: Evidence, other: str) -> str:
        measure = 'max abs diff' if evidence.measure == 'max_abs' else 'relative L2 distance'
        at_least = 'at least ' if evidence.is_lower_bound else ''
        return (f'{self._keys[evidence.tensor]} differs from {other}: {measure} {at_least}{evidence.value:.3g} > '
                f'{evidence.limit:.3g}')

    def _unverifiable(self) -> CheckOutcome:
        for outcome in self._outcomes:
            outcome.rule = Rule.MODEL_UNREADABLE
            outcome.reason = f'the model\'s structure cannot be read safely: {self._model_error}'
        return self._outcome(Verdict.INCONSISTENT, '', 0)

    def _outcome(self, verdict: Verdict, canonical: str, largest_group: int) -> CheckOutcome:
        return CheckOutcome(verdict, canonical, self._outcomes, self._tolerance, self._quorum, largest_group,
                            self._model_format, self.stats, self._model_error)

    # -- timing ------------------------------------------------------------------------------------------------

    def _busy(self) -> '_Busy':
        return _Busy(self.stats)


class _Busy:
    """Adds the time spent inside to stats.busy_seconds."""

    def __init__(self, stats: CheckStats) -> None:
        self._stats = stats
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self._stats.busy_seconds += time.perf_counter() - self._started


def check_files(model: str, results: list[tuple[str, str]], tolerance: Tolerance, quorum: int,
                log: Optional[Logger] = None) -> CheckOutcome:
    """A whole check over files already on disk: [(execution id, path)] in order."""
    engine = ConsistencyEngine([ResultInput(execution_id) for execution_id, _ in results], tolerance, quorum, log)
    engine.set_model(model)
    for index, (_, path) in enumerate(results):
        engine.add_result(index, path)
    return engine.finish()
