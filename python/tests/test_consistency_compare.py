import math
from pathlib import Path

import pytest
import torch

from gds_ml.consistency import tensors
from gds_ml.consistency.grouping import AgreementGraph, largest_groups
from gds_ml.consistency.schemas import Rejection, Rule, TensorDistance, TensorSpec, Tolerance
from gds_ml.consistency.tensors import LoadedResult, compare, load_result, measure, measure_against

KEYS = ['t']


def _loaded(*values: torch.Tensor) -> LoadedResult:
    return LoadedResult([value.reshape(-1) for value in values])


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64,
                                   torch.complex64, torch.bool])
@pytest.mark.parametrize('numel', [1, 1000, tensors.CHUNK_ELEMENTS + 17])
def test_measure_against_matches_the_direct_formulas(dtype: torch.dtype, numel: int) -> None:
    generator = torch.Generator().manual_seed(numel)
    left = (torch.randn(numel, generator=generator, dtype=torch.float64) * 3).to(dtype)
    right = (torch.randn(numel, generator=generator, dtype=torch.float64) * 3).to(dtype)

    norms, distances = measure_against(_loaded(left), _loaded(right), KEYS)

    def wide(value: torch.Tensor) -> torch.Tensor:
        return torch.view_as_real(value).double() if value.is_complex() else value.double()

    diff = wide(right) - wide(left)
    assert norms[0] == pytest.approx(float(wide(right).norm()), rel=1e-4)
    assert distances[0].max_abs == pytest.approx(float(diff.abs().max()), rel=1e-3)
    assert distances[0].l2 == pytest.approx(float(diff.norm()), rel=1e-3)
    assert compare(_loaded(left), _loaded(right))[0].max_abs == distances[0].max_abs


@pytest.mark.parametrize('bad,counts', [(float('nan'), '1 NaN and 0 infinite'), (float('inf'), '0 NaN and 1 infinite')])
def test_measure_names_the_tensor_and_counts_non_finite_values(bad: float, counts: str) -> None:
    values = torch.zeros(tensors.CHUNK_ELEMENTS * 2)
    values[tensors.CHUNK_ELEMENTS + 5] = bad

    with pytest.raises(Rejection) as caught:
        measure(_loaded(values), ['layer.weight'])

    assert caught.value.rule is Rule.NON_FINITE
    assert caught.value.reason == f'layer.weight holds {counts} values (first at index {tensors.CHUNK_ELEMENTS + 5})'


def test_measure_accepts_finite_values_whose_squares_overflow_float32() -> None:
    values = torch.tensor([3e20, -3e20], dtype=torch.float32)

    assert measure(_loaded(values), KEYS)[0] == pytest.approx(math.sqrt(2) * 3e20, rel=1e-6)


def test_load_result_rejects_a_compressed_record_before_loading(tmp_path: Path) -> None:
    import zipfile
    plain = tmp_path / 'plain.pt'
    torch.save({'t': torch.zeros(4)}, plain)
    packed = tmp_path / 'packed.pt'
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(packed, 'w', zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info.filename))

    with pytest.raises(Rejection) as caught:
        load_result(str(packed), {'t': TensorSpec((4,), torch.float32)})

    assert caught.value.rule is Rule.UNREADABLE and 'compressed' in caught.value.reason


def test_load_result_rejects_storage_far_beyond_its_tensors(tmp_path: Path) -> None:
    path = tmp_path / 'result.pt'
    torch.save({'t': torch.zeros(1_000_000)[:4]}, path)

    with pytest.raises(Rejection) as caught:
        load_result(str(path), {'t': TensorSpec((4,), torch.float32)})

    assert caught.value.rule is Rule.UNREADABLE and 'bytes of storage' in caught.value.reason


def _graph(distances_to_anchor: list[float], tolerance: float = 1e-5) -> AgreementGraph:
    graph = AgreementGraph([100], Tolerance.resolve(tolerance))
    graph.add_anchor(0)
    graph.add_member(0, [10.0])
    for index, distance in enumerate(distances_to_anchor, start=1):
        graph.add_member(index, [10.0])
        graph.record(0, index, [TensorDistance(distance, distance)])
    return graph


def test_bounds_prove_results_near_the_anchor_agree_without_comparing_them() -> None:
    graph = _graph([1e-7, 2e-7, 0.0])

    assert graph.open_pairs() == []
    assert graph.decide(1, 2) == (True, None)
    assert largest_groups(graph.neighbours()) == [frozenset({0, 1, 2, 3})]


def test_bounds_prove_results_at_different_distances_disagree() -> None:
    graph = _graph([1e-7, 0.5])

    agrees, evidence = graph.decide(1, 2)

    assert agrees is False
    assert evidence is not None and evidence.is_lower_bound and evidence.value == pytest.approx(0.5 - 1e-7)


def test_bounds_leave_pairs_equally_far_from_a_bad_anchor_open() -> None:
    graph = _graph([0.5, 0.5])

    assert graph.open_pairs() == [(1, 2)]

    graph.add_anchor(1)
    graph.record(1, 2, [TensorDistance(1e-7, 1e-7)])
    assert graph.open_pairs() == []
    assert largest_groups(graph.neighbours()) == [frozenset({1, 2})]


def test_relative_l2_uses_the_floor_for_tensors_near_zero() -> None:
    graph = AgreementGraph([100], Tolerance(max_abs_diff=1e-5, relative_l2=1e-4))
    graph.add_member(0, [0.0])
    graph.add_member(1, [1e-9])

    assert graph.relative_l2(0, 1, 0, 1e-6) == pytest.approx(1e-6 / (10 * 1e-5))


def test_largest_groups_returns_every_maximum_clique_in_a_stable_order() -> None:
    neighbours = {0: {1}, 1: {0, 2}, 2: {1}, 3: set()}

    assert largest_groups(neighbours) == [frozenset({0, 1}), frozenset({1, 2})]
    assert largest_groups({}) == []
