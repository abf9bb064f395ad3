import io
import os
import pickle
import sys
import zipfile
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
import torch.nn as nn

from gds_ml.consistency.schemas import TensorSpec
from gds_ml.consistency.structure import StructuralError, declared_result, model_structure
from gds_ml.demo_models import Net
from gds_ml.fixtures import pickled_as_main
from gds_ml.loading import ModelFormat


class Nested(nn.Module):
    """Submodules, a shared module, a persistent and a non-persistent buffer, an int buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(4)
        self.body = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2, bias=False))
        self.tied = self.body[0]
        self.register_buffer('scratch', torch.zeros(2), persistent=False)
        self.register_buffer('steps', torch.zeros((), dtype=torch.int64))


class _Reduce:
    def __init__(self, function: Callable[..., Any], *args: Any) -> None:
        self.function, self.args = function, args

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return (self.function, self.args)


def _structure_of(module: nn.Module) -> dict[str, TensorSpec]:
    return {key: TensorSpec(tuple(value.shape), value.dtype) for key, value in module.state_dict().items()}


@pytest.mark.parametrize('kind,expected', [('torch_save', ModelFormat.TORCH_SAVE), ('pickle', ModelFormat.PICKLE),
                                           ('torchscript', ModelFormat.TORCHSCRIPT)])
def test_model_structure_matches_the_state_dict_for_each_seed_format(make_model: Callable[..., Path], kind: str,
                                                                     expected: ModelFormat) -> None:
    structure, model_format = model_structure(str(make_model(kind)))

    assert model_format is expected
    assert structure == _structure_of(Net())


@pytest.mark.parametrize('save', ['zip', 'legacy', 'pickle'])
def test_model_structure_walks_nested_shared_and_non_persistent_members(tmp_path: Path, save: str) -> None:
    path = tmp_path / 'nested.bin'
    with pickled_as_main(Nested, 'Nested'):
        if save == 'pickle':
            path.write_bytes(pickle.dumps(Nested(), protocol=2))
        else:
            torch.save(Nested(), path, _use_new_zipfile_serialization=save == 'zip')

    structure, _ = model_structure(str(path))

    assert list(structure) == list(_structure_of(Nested()))
    assert structure == _structure_of(Nested())
    assert 'scratch' not in structure and structure['steps'].dtype == torch.int64


@pytest.mark.parametrize('kind', ['malicious', 'malicious_torch_save'])
def test_model_that_would_run_code_is_refused_and_nothing_runs(make_model: Callable[..., Path], marker: Path,
                                                               kind: str) -> None:
    with pytest.raises(StructuralError, match='calls posix.system'):
        model_structure(str(make_model(kind)))

    assert not marker.exists()


def test_model_classes_are_never_imported(tmp_path: Path, marker: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A class in a module whose import has side effects: the reader must not even import it."""
    (tmp_path / 'sideeffect.py').write_text(
        f'import pathlib, torch.nn as nn\npathlib.Path({str(marker)!r}).touch()\n'
        'class Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n'
        '        self.fc = nn.Linear(2, 1)\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    import sideeffect  # noqa: PLC0415 - imported here to write the fixture only
    torch.save(sideeffect.Model(), tmp_path / 'model.pt')
    marker.unlink()
    del sys.modules['sideeffect']

    structure, _ = model_structure(str(tmp_path / 'model.pt'))

    assert list(structure) == ['fc.weight', 'fc.bias']
    assert not marker.exists()
    assert 'sideeffect' not in sys.modules


@pytest.mark.parametrize('payload', [_Reduce(eval, '1+1'), _Reduce(getattr, object, '__class__'),
                                     _Reduce(os.system, 'true'), _Reduce(bytes, 10 ** 12),
                                     _Reduce(torch.load, 'x'), _Reduce(torch.FloatTensor, 10 ** 10)])
def test_any_call_outside_the_allow_list_is_refused(tmp_path: Path, payload: Any) -> None:
    path = tmp_path / 'model.pkl'
    path.write_bytes(pickle.dumps({'fc.weight': payload}, protocol=2))

    with pytest.raises(StructuralError, match='calls'):
        model_structure(str(path))


def test_a_torch_save_state_dict_counts_as_its_own_structure(tmp_path: Path) -> None:
    path = tmp_path / 'weights.pt'
    torch.save(Net().state_dict(), path)

    structure, _ = model_structure(str(path))

    assert structure == _structure_of(Net())


def test_bytes_that_are_no_model_are_refused(tmp_path: Path) -> None:
    path = tmp_path / 'junk.bin'
    path.write_bytes(b'PK\x03\x04' + os.urandom(1000))

    with pytest.raises(StructuralError):
        model_structure(str(path))


def test_declared_result_lists_tensors_and_storage_without_loading(tmp_path: Path) -> None:
    path = tmp_path / 'result.pt'
    weights = {'a': torch.ones(3, 4), 'b': torch.arange(5), 'view': torch.arange(100.0)[10:20]}
    torch.save(weights, path)

    declared = declared_result(str(path))

    assert declared.tensors == {'a': TensorSpec((3, 4), torch.float32), 'b': TensorSpec((5,), torch.int64),
                                'view': TensorSpec((10,), torch.float32)}
    assert declared.storage_bytes == 3 * 4 * 4 + 5 * 8 + 100 * 4
    assert declared.not_dense == {}


def test_declared_result_marks_sparse_and_meta_tensors(tmp_path: Path) -> None:
    path = tmp_path / 'result.pt'
    torch.save({'sparse': torch.zeros(3).to_sparse(), 'meta': torch.empty(2, device='meta')}, path)

    assert declared_result(str(path)).not_dense == {'sparse': 'sparse', 'meta': 'meta'}


def test_declared_result_refuses_what_is_not_a_state_dict(tmp_path: Path) -> None:
    path = tmp_path / 'result.pt'
    torch.save([torch.ones(1)], path)

    with pytest.raises(StructuralError, match='not a state_dict'):
        declared_result(str(path))


def test_declared_result_refuses_two_pickles_in_one_archive(tmp_path: Path) -> None:
    path = tmp_path / 'result.pt'
    buffer = io.BytesIO()
    torch.save({'a': torch.ones(1)}, buffer)
    with zipfile.ZipFile(buffer, 'a') as archive:
        archive.writestr('other/data.pkl', pickle.dumps({}))
    path.write_bytes(buffer.getvalue())

    with pytest.raises(StructuralError, match='exactly one'):
        declared_result(str(path))
