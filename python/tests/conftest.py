import os
import sys
from pathlib import Path
from typing import Callable

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gds_ml.demo_data import write_demo_data  # noqa: E402
from gds_ml.fixtures import write_fixture  # noqa: E402

ALIASES = {'__main__': 'gds_ml.demo_models'}
FEATURES = ['x1', 'x2', 'x3', 'x4', 'x5']


@pytest.fixture
def make_model(tmp_path: Path) -> Callable[..., Path]:
    """Writes a fixture model of the given kind into tmp_path; malicious kinds point at tmp_path/PWNED."""

    def make(kind: str, seed: int = 0) -> Path:
        path = tmp_path / f'{kind}_{seed}.bin'
        write_fixture(kind, str(path), seed, marker=str(tmp_path / 'PWNED'))
        return path

    return make


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / 'PWNED'


@pytest.fixture
def data_csv(tmp_path: Path) -> Path:
    path = tmp_path / 'data.csv'
    write_demo_data(str(path), rows=256, seed=7)
    return path


@pytest.fixture
def cli_env() -> dict[str, str]:
    return {**os.environ, 'PYTHONPATH': str(Path(__file__).resolve().parents[1])}
