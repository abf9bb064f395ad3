from pathlib import Path
from typing import Any, Callable

import pytest
import torch

from gds_ml.errors import ErrorCode, GdsMlError, TrainingError
from gds_ml.training import TrainingSpec, parse_spec, train

from conftest import ALIASES, FEATURES

SPEC = {'epochs': 3, 'batchSize': 16, 'optimizer': 'sgd', 'learningRate': 0.1, 'loss': 'bce', 'seed': 5}


def _train(model: Path, data: Path, spec: dict[str, Any] = SPEC, threads: int | None = None) -> tuple[dict, dict]:
    return train(model, str(data), FEATURES, 'y', spec, True, ALIASES, threads)


def _equal(left: dict, right: dict) -> bool:
    return left.keys() == right.keys() and all(torch.equal(left[key], right[key]) for key in left)


@pytest.mark.parametrize('kind', ['torch_save', 'pickle', 'torchscript'])
def test_each_seed_format_trains_and_lowers_the_loss(make_model: Callable[..., Path], data_csv: Path,
                                                     kind: str) -> None:
    before = _train(make_model(kind), data_csv, {**SPEC, 'epochs': 1})[0]
    after, info = _train(make_model(kind), data_csv, {**SPEC, 'epochs': 5})

    assert info['format'] == kind and len(info['losses']) == 5
    assert info['losses'][-1] < info['losses'][0]
    assert not _equal(before, after)


def test_training_twice_with_the_same_seed_gives_equal_state_dicts(make_model: Callable[..., Path],
                                                                    data_csv: Path) -> None:
    model = make_model('torch_save')

    assert _equal(_train(model, data_csv)[0], _train(model, data_csv)[0])


def test_a_different_seed_shuffles_differently(make_model: Callable[..., Path], data_csv: Path) -> None:
    model = make_model('torch_save')

    assert not _equal(_train(model, data_csv)[0], _train(model, data_csv, {**SPEC, 'seed': 6})[0])


def test_thread_count_does_not_change_the_result_of_the_seed_model(make_model: Callable[..., Path],
                                                                   data_csv: Path) -> None:
    model = make_model('torch_save')
    threads = torch.get_num_threads()
    try:
        one, two = _train(model, data_csv, threads=1)[0], _train(model, data_csv, threads=2)[0]
    finally:
        torch.set_num_threads(threads)

    # Exactly equal for the seed model: its reductions are far below torch's parallel grain (32768 elements). A sum
    # over millions of elements does differ between 1 and 4 threads, so DOs should all train with the same --threads.
    assert _equal(one, two)


def test_adam_and_mse_train_deterministically(make_model: Callable[..., Path], data_csv: Path) -> None:
    spec = {**SPEC, 'optimizer': 'adam', 'loss': 'mse', 'learningRate': 0.01}
    model = make_model('pickle')

    assert _equal(_train(model, data_csv, spec)[0], _train(model, data_csv, spec)[0])


def test_missing_spec_keys_take_the_defaults() -> None:
    assert parse_spec({}) == TrainingSpec(epochs=5, batch_size=32, optimizer='sgd', learning_rate=0.01, loss='mse',
                                          seed=0, momentum=0.0)
    assert parse_spec({'epochs': 0, 'learningRate': 0, 'loss': ''}) == TrainingSpec()


@pytest.mark.parametrize('spec', [{'loss': 'hinge'}, {'optimizer': 'rmsprop'}, {'epochs': -1}, {'epochs': 'five'},
                                  {'learningRate': -0.1}, {'batchSize': 1.5}, {'seed': True}, {'epoch': 3}, []])
def test_bad_spec_values_raise_bad_spec(spec: Any) -> None:
    with pytest.raises(TrainingError) as caught:
        parse_spec(spec)

    assert caught.value.code is ErrorCode.BAD_SPEC


def test_missing_columns_raise_dataset_unavailable(make_model: Callable[..., Path], data_csv: Path) -> None:
    with pytest.raises(GdsMlError) as caught:
        train(make_model('torchscript'), str(data_csv), ['x1', 'nope'], 'y', SPEC)

    assert caught.value.code is ErrorCode.DATASET_UNAVAILABLE and 'nope' in caught.value.message


def test_missing_dataset_file_raises_dataset_unavailable(make_model: Callable[..., Path], tmp_path: Path) -> None:
    with pytest.raises(GdsMlError) as caught:
        train(make_model('torchscript'), str(tmp_path / 'absent.csv'), FEATURES, 'y', SPEC)

    assert caught.value.code is ErrorCode.DATASET_UNAVAILABLE


def test_model_that_does_not_fit_the_data_raises_training_failed(make_model: Callable[..., Path],
                                                                 data_csv: Path) -> None:
    with pytest.raises(GdsMlError) as caught:
        train(make_model('torchscript'), str(data_csv), ['x1', 'x2'], 'y', SPEC)

    assert caught.value.code is ErrorCode.TRAINING_FAILED
