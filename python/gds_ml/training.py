"""Deterministic training of a Query Customer's model on a Data Owner's CSV dataset."""
import csv
import logging
import math
import time
from dataclasses import dataclass, fields
from typing import Any, Callable, Mapping, Optional, Sequence

import torch
from torch.utils.data import DataLoader, TensorDataset

from gds_ml.errors import ErrorCode, TrainingError
from gds_ml.loading import ModelSource, load_model

log = logging.getLogger('gds_ml.training')

LOSSES = ('mse', 'bce', 'cross_entropy')
OPTIMIZERS = ('sgd', 'adam')
EpochCallback = Callable[[int, int, float], None]


@dataclass(frozen=True)
class TrainingSpec:
    """The query's training spec; zero and empty values mean "default", as in the proto's TrainingSpec."""

    epochs: int = 5
    batch_size: int = 32
    optimizer: str = 'sgd'
    learning_rate: float = 0.01
    loss: str = 'mse'
    seed: int = 0
    momentum: float = 0.0


_JSON_KEYS = {'epochs': 'epochs', 'batchSize': 'batch_size', 'optimizer': 'optimizer',
              'learningRate': 'learning_rate', 'loss': 'loss', 'seed': 'seed', 'momentum': 'momentum'}


def parse_spec(raw: Mapping[str, Any]) -> TrainingSpec:
    """Validates a camelCase spec (snake_case accepted too); raises TrainingError(BAD_SPEC)."""
    if not isinstance(raw, Mapping):
        raise _bad_spec('the training spec must be a JSON object')
    known = set(_JSON_KEYS) | set(_JSON_KEYS.values())
    unknown = sorted(set(raw) - known)
    if unknown:
        raise _bad_spec(f'unknown keys {unknown}; allowed: {sorted(_JSON_KEYS)}')

    values = {_JSON_KEYS.get(key, key): value for key, value in raw.items() if value not in (None, '', 0)}
    spec = TrainingSpec(**{f.name: _typed(f.name, values[f.name], f.type) for f in fields(TrainingSpec)
                           if f.name in values})
    _check_ranges(spec)
    return spec


def _typed(name: str, value: Any, expected: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float) if expected is float else expected):
        raise _bad_spec(f'{name} must be a {expected.__name__}, got {value!r}')
    return float(value) if expected is float else value


def _check_ranges(spec: TrainingSpec) -> None:
    if spec.loss not in LOSSES:
        raise _bad_spec(f'loss must be one of {list(LOSSES)}, got {spec.loss!r}')
    if spec.optimizer not in OPTIMIZERS:
        raise _bad_spec(f'optimizer must be one of {list(OPTIMIZERS)}, got {spec.optimizer!r}')
    if spec.epochs < 1 or spec.batch_size < 1 or not 0 <= spec.seed < 2 ** 64:
        raise _bad_spec('epochs and batchSize must be positive and seed a uint64')
    if not (math.isfinite(spec.learning_rate) and spec.learning_rate > 0 and 0 <= spec.momentum < math.inf):
        raise _bad_spec('learningRate must be positive and momentum non-negative, both finite')


def _bad_spec(message: str) -> TrainingError:
    return TrainingError(ErrorCode.BAD_SPEC, message)


def read_dataset(csv_path: str, features: Sequence[str], label: str, loss: str) -> TensorDataset:
    """Features as float32 [N, F]; the label as float32 [N, 1], or int64 [N] for cross_entropy."""
    rows = _read_rows(csv_path, [*features, label])
    try:
        inputs = torch.tensor([[float(row[name]) for name in features] for row in rows], dtype=torch.float32)
        if loss == 'cross_entropy':
            targets = torch.tensor([int(float(row[label])) for row in rows], dtype=torch.int64)
        else:
            targets = torch.tensor([[float(row[label])] for row in rows], dtype=torch.float32)
    except ValueError as error:
        raise TrainingError(ErrorCode.DATASET_UNAVAILABLE, f'non-numeric value in dataset: {error}') from None
    return TensorDataset(inputs, targets)


def _read_rows(csv_path: str, columns: list[str]) -> list[dict[str, str]]:
    try:
        with open(csv_path, newline='') as file:
            reader = csv.DictReader(file)
            missing = [name for name in columns if name not in (reader.fieldnames or [])]
            if missing:
                raise TrainingError(ErrorCode.DATASET_UNAVAILABLE, f'dataset lacks columns {missing}')
            rows = list(reader)
    except OSError as error:
        raise TrainingError(ErrorCode.DATASET_UNAVAILABLE, f'cannot read dataset: {error}') from None

    if not rows:
        raise TrainingError(ErrorCode.DATASET_UNAVAILABLE, 'dataset has no rows')
    return rows


def train(model_source: ModelSource, csv_path: str, features: Sequence[str], label: str,
          spec: TrainingSpec | Mapping[str, Any], allow_pickle: bool = False,
          module_aliases: Optional[Mapping[str, str]] = None, threads: Optional[int] = None,
          on_epoch: Optional[EpochCallback] = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Loads and trains the model; returns its state_dict and info (format, losses, start/finish in ns)."""
    spec = spec if isinstance(spec, TrainingSpec) else parse_spec(spec)
    _make_deterministic(spec.seed, threads)
    loaded = load_model(model_source, allow_pickle, module_aliases)
    dataset = read_dataset(csv_path, features, label, spec.loss)

    started_at_ns = time.time_ns()
    losses = _fit(loaded.module, dataset, spec, on_epoch)
    finished_at_ns = time.time_ns()

    info = {'format': loaded.format.value, 'losses': losses, 'rows': len(dataset),
            'startedAtNs': started_at_ns, 'finishedAtNs': finished_at_ns}
    return loaded.module.state_dict(), info


def _make_deterministic(seed: int, threads: Optional[int]) -> None:
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    if threads:
        torch.set_num_threads(threads)


def _fit(model: torch.nn.Module, dataset: TensorDataset, spec: TrainingSpec,
         on_epoch: Optional[EpochCallback]) -> list[float]:
    shuffle_generator = torch.Generator().manual_seed(spec.seed)
    loader = DataLoader(dataset, batch_size=spec.batch_size, shuffle=True, generator=shuffle_generator, num_workers=0)
    optimizer = _optimizer(model, spec)
    criterion = _criterion(spec.loss)
    losses: list[float] = []

    model.train()
    for epoch in range(1, spec.epochs + 1):
        loss = _run_epoch(model, loader, optimizer, criterion)
        losses.append(loss)
        log.info('train.epoch', extra={'epoch': epoch, 'totalEpochs': spec.epochs, 'loss': loss})
        if on_epoch:
            on_epoch(epoch, spec.epochs, loss)
    return losses


def _run_epoch(model: torch.nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
               criterion: torch.nn.Module) -> float:
    total, count = 0.0, 0
    for inputs, targets in loader:
        optimizer.zero_grad()
        try:
            loss = criterion(model(inputs), targets)
            loss.backward()
        except (RuntimeError, ValueError, TypeError) as error:
            raise TrainingError(ErrorCode.TRAINING_FAILED, f'model does not fit the data: {error}') from None
        optimizer.step()

        total += loss.item() * len(inputs)
        count += len(inputs)
    return total / count


def _optimizer(model: torch.nn.Module, spec: TrainingSpec) -> torch.optim.Optimizer:
    parameters = list(model.parameters())
    if not parameters:
        raise TrainingError(ErrorCode.TRAINING_FAILED, 'the model has no parameters to train')
    if spec.optimizer == 'adam':
        return torch.optim.Adam(parameters, lr=spec.learning_rate)
    return torch.optim.SGD(parameters, lr=spec.learning_rate, momentum=spec.momentum)


def _criterion(loss: str) -> torch.nn.Module:
    criteria: dict[str, Callable[[], torch.nn.Module]] = {
        'mse': torch.nn.MSELoss, 'bce': torch.nn.BCELoss, 'cross_entropy': torch.nn.CrossEntropyLoss,
    }
    return criteria[loss]()
