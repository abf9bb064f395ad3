import re
from pathlib import Path
from typing import Callable

import pytest
import torch

from gds_ml.consistency.engine import check_files
from gds_ml.consistency.fixtures import write_fault
from gds_ml.consistency.schemas import CheckOutcome, Rule, Tolerance, Verdict
from gds_ml.training import train

from conftest import ALIASES, FEATURES

SPEC = {'epochs': 3, 'batchSize': 32, 'learningRate': 0.05, 'seed': 7}
TOLERANCE = Tolerance.resolve(1e-5)


@pytest.fixture
def model(make_model: Callable[..., Path]) -> Path:
    return make_model('torch_save', 3)


@pytest.fixture
def trained(tmp_path: Path, model: Path, data_csv: Path) -> Callable[..., Path]:
    """Trains the model as a Data Owner would; threads and epochs may differ."""

    def run(name: str, threads: int = 1, epochs: int = 3) -> Path:
        state_dict, _ = train(str(model), str(data_csv), FEATURES, 'y', {**SPEC, 'epochs': epochs}, True, ALIASES,
                              threads)
        path = tmp_path / f'{name}.pt'
        torch.save(state_dict, path)
        return path

    return run


@pytest.fixture
def honest(trained: Callable[..., Path]) -> list[Path]:
    return [trained('honest1'), trained('honest2', threads=2)]


def _fault(tmp_path: Path, kind: str, honest: Path, model: Path, marker: Path) -> Path:
    path = tmp_path / f'{kind}.pt'
    write_fault(kind, str(honest), str(path), model=str(model), seed=11, scale=1e-3, marker=str(marker))
    return path


def _check(model: Path, results: list[tuple[str, Path]], quorum: int = 2) -> CheckOutcome:
    return check_files(str(model), [(name, str(path)) for name, path in results], TOLERANCE, quorum)


def test_honest_results_agree_whatever_the_thread_count(model: Path, honest: list[Path],
                                                        trained: Callable[..., Path]) -> None:
    outcome = _check(model, [('a', honest[0]), ('b', honest[1]), ('c', trained('honest3', threads=2))], quorum=3)

    assert outcome.verdict is Verdict.CONSISTENT
    assert outcome.canonical_execution_id == 'a'
    assert all(result.accepted and result.max_abs_diff <= 1e-6 for result in outcome.results)


@pytest.mark.parametrize('kind,rule,reason', [
    ('initial', Rule.OUT_OF_TOLERANCE, r'^fc1\.(weight|bias) differs from the canonical result: max abs diff'),
    ('random', Rule.OUT_OF_TOLERANCE, r'^fc1\.(weight|bias) differs from the canonical result: max abs diff'),
    ('noise', Rule.OUT_OF_TOLERANCE, r'^fc1\.(weight|bias) differs from the canonical result: max abs diff 0\.00'),
    ('wrong_shape', Rule.SHAPE_MISMATCH, r"^fc1\.weight has shape \[6\], the model's has \[1, 5\]$"),
    ('wrong_dtype', Rule.DTYPE_MISMATCH, r"^fc1\.weight is float64, the model's is float32$"),
    ('nan', Rule.NON_FINITE, r'^fc1\.weight holds 1 NaN and 0 infinite values'),
    ('missing_key', Rule.MISSING_KEY, r'^fc1\.bias missing'),
    ('extra_key', Rule.UNEXPECTED_KEY, r'^backdoor\.weight not in the model$'),
    ('malicious', Rule.UNREADABLE, r'calls posix\.system'),
    ('corrupt', Rule.UNREADABLE, r'broken zip archive'),
    ('not_state_dict', Rule.NOT_A_STATE_DICT, r'holds a list, not a state_dict'),
])
def test_each_fault_is_named_with_its_rule(tmp_path: Path, model: Path, honest: list[Path], marker: Path, kind: str,
                                           rule: Rule, reason: str) -> None:
    faulty = _fault(tmp_path, kind, honest[0], model, marker)

    outcome = _check(model, [('honest1', honest[0]), ('faulty', faulty), ('honest2', honest[1])])

    assert outcome.verdict is Verdict.CONSISTENT
    assert [result.accepted for result in outcome.results] == [True, False, True]
    culprit = outcome.results[1]
    assert culprit.rule is rule
    assert re.search(reason, culprit.reason), culprit.reason
    assert not marker.exists()


def test_fewer_epochs_are_out_of_tolerance(model: Path, honest: list[Path], trained: Callable[..., Path]) -> None:
    outcome = _check(model, [('honest1', honest[0]), ('lazy', trained('lazy', epochs=2)), ('honest2', honest[1])])

    assert outcome.results[1].rule is Rule.OUT_OF_TOLERANCE
    assert outcome.results[1].max_abs_diff > 1e-3


def test_a_faulty_anchor_costs_a_second_round_but_not_the_verdict(tmp_path: Path, model: Path, honest: list[Path],
                                                                   marker: Path) -> None:
    faulty = _fault(tmp_path, 'random', honest[0], model, marker)

    outcome = _check(model, [('faulty', faulty), ('honest1', honest[0]), ('honest2', honest[1])])

    assert outcome.verdict is Verdict.CONSISTENT
    assert outcome.canonical_execution_id == 'honest1'
    assert outcome.results[0].rule is Rule.OUT_OF_TOLERANCE
    assert outcome.stats.loads == 5


def test_honest_results_are_each_loaded_once(model: Path, honest: list[Path]) -> None:
    outcome = _check(model, [(f'r{i}', honest[i % 2]) for i in range(5)], quorum=3)

    assert outcome.verdict is Verdict.CONSISTENT
    assert (outcome.stats.loads, outcome.stats.comparisons) == (5, 4)


def test_no_majority_is_inconsistent_and_every_result_says_why(tmp_path: Path, model: Path, honest: list[Path],
                                                              marker: Path) -> None:
    initial = _fault(tmp_path, 'initial', honest[0], model, marker)
    random = _fault(tmp_path, 'random', honest[0], model, marker)

    outcome = _check(model, [('honest', honest[0]), ('initial', initial), ('random', random)])

    assert outcome.verdict is Verdict.INCONSISTENT
    assert outcome.canonical_execution_id == ''
    assert outcome.largest_group == 1
    for result in outcome.results:
        assert result.rule is Rule.NO_QUORUM and not result.accepted
        assert result.reason.startswith('no group of agreeing results reaches the quorum of 2 (the largest has 1)')


def test_two_disjoint_groups_that_each_reach_the_quorum_are_inconsistent(tmp_path: Path, model: Path,
                                                                          honest: list[Path], marker: Path) -> None:
    random = _fault(tmp_path, 'random', honest[0], model, marker)

    outcome = _check(model, [('a', honest[0]), ('b', random), ('c', honest[1]), ('d', random)])

    assert outcome.verdict is Verdict.INCONSISTENT
    assert 'separate groups of 2' in outcome.results[0].reason


def test_an_unreadable_model_rejects_every_result(make_model: Callable[..., Path], honest: list[Path],
                                                 marker: Path) -> None:
    outcome = _check(make_model('malicious'), [('a', honest[0]), ('b', honest[1])])

    assert outcome.verdict is Verdict.INCONSISTENT
    assert {result.rule for result in outcome.results} == {Rule.MODEL_UNREADABLE}
    assert not marker.exists()


def test_a_looser_tolerance_accepts_the_noisy_result(tmp_path: Path, model: Path, honest: list[Path],
                                                     marker: Path) -> None:
    noisy = _fault(tmp_path, 'noise', honest[0], model, marker)

    outcome = check_files(str(model), [('a', str(honest[0])), ('b', str(noisy))], Tolerance.resolve(1e-2), 2)

    assert outcome.verdict is Verdict.CONSISTENT
