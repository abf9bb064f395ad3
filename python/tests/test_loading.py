import io
import os
import pickle
from pathlib import Path
from typing import Any, Callable

import pytest
import torch

from gds_ml import loading
from gds_ml.demo_models import Net
from gds_ml.errors import ErrorCode
from gds_ml.loading import ModelFormat, ModelLoadError, load_model, sniff_format

from conftest import ALIASES

SEED_FORMATS = [('torch_save', ModelFormat.TORCH_SAVE), ('pickle', ModelFormat.PICKLE),
                ('torchscript', ModelFormat.TORCHSCRIPT)]


class _CallsTorch:
    """A pickle whose loading calls a torch function with attacker-chosen arguments."""

    def __init__(self, function: Callable[..., Any], *args: Any) -> None:
        self.function, self.args = function, args

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return (self.function, self.args)


def _error(source: Any, allow_pickle: bool = True) -> ModelLoadError:
    with pytest.raises(ModelLoadError) as caught:
        load_model(source, allow_pickle=allow_pickle, module_aliases=ALIASES)
    return caught.value


@pytest.mark.parametrize('kind,expected', SEED_FORMATS)
def test_sniff_recognises_each_seed_format_from_bytes(make_model: Callable[..., Path], kind: str,
                                                      expected: ModelFormat) -> None:
    path = make_model(kind)

    assert sniff_format(path) is expected
    assert sniff_format(path.read_bytes()) is expected


def test_sniff_recognises_legacy_torch_save_as_torch_save(tmp_path: Path) -> None:
    path = tmp_path / 'legacy.pt'
    torch.save(Net(), path, _use_new_zipfile_serialization=False)

    assert sniff_format(path) is ModelFormat.TORCH_SAVE
    assert isinstance(load_model(path, True, {'gds_ml.demo_models': 'gds_ml.demo_models'}).module, Net)


def test_seed_torch_save_bytes_name_main_net(make_model: Callable[..., Path]) -> None:
    assert b'__main__\nNet' in make_model('pickle').read_bytes()


@pytest.mark.parametrize('kind,expected', SEED_FORMATS)
def test_each_seed_format_loads_as_module_with_the_seeded_weights(make_model: Callable[..., Path], kind: str,
                                                                 expected: ModelFormat) -> None:
    torch.manual_seed(3)
    reference = Net().state_dict()

    loaded = load_model(make_model(kind, seed=3), allow_pickle=True, module_aliases=ALIASES)

    assert loaded.format is expected
    assert all(torch.equal(loaded.module.state_dict()[key], value) for key, value in reference.items())


def test_torchscript_loads_without_allow_pickle(make_model: Callable[..., Path]) -> None:
    assert isinstance(load_model(make_model('torchscript')).module, torch.jit.ScriptModule)


def test_loading_from_bytes_matches_loading_from_path(make_model: Callable[..., Path]) -> None:
    path = make_model('torch_save')

    from_bytes = load_model(path.read_bytes(), True, ALIASES).module.state_dict()
    from_path = load_model(path, True, ALIASES).module.state_dict()

    assert all(torch.equal(from_bytes[key], from_path[key]) for key in from_path)


@pytest.mark.parametrize('kind', ['torch_save', 'pickle'])
def test_pickled_models_are_refused_without_allow_pickle(make_model: Callable[..., Path], kind: str) -> None:
    assert _error(make_model(kind), allow_pickle=False).code is ErrorCode.PICKLE_NOT_ALLOWED


@pytest.mark.parametrize('allow_pickle', [False, True])
@pytest.mark.parametrize('kind', ['malicious', 'malicious_torch_save'])
def test_malicious_pickle_is_forbidden_and_never_runs(make_model: Callable[..., Path], marker: Path, kind: str,
                                                      allow_pickle: bool) -> None:
    error = _error(make_model(kind), allow_pickle)

    assert error.code is ErrorCode.FORBIDDEN_GLOBAL
    assert 'posix.system' in error.message or 'os.system' in error.message
    assert not marker.exists()


@pytest.mark.parametrize('kind', ['malicious', 'malicious_torch_save'])
def test_restricted_unpickler_blocks_malicious_pickle_even_if_static_scan_is_bypassed(
        make_model: Callable[..., Path], marker: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    monkeypatch.setattr(loading, '_check_globals', lambda *args: None)

    assert _error(make_model(kind)).code is ErrorCode.FORBIDDEN_GLOBAL
    assert not marker.exists()


def test_torch_save_global_is_forbidden_because_it_writes_files(tmp_path: Path) -> None:
    target = tmp_path / 'written.pt'
    data = pickle.dumps(_CallsTorch(torch.save, {}, str(target)), protocol=2)

    error = _error(data)

    assert error.code is ErrorCode.FORBIDDEN_GLOBAL and 'torch.serialization.save' in error.message
    assert not target.exists()


def test_nested_storage_bytes_cannot_smuggle_a_pickle_past_the_restrictions(make_model: Callable[..., Path],
                                                                           marker: Path) -> None:
    legacy = io.BytesIO()
    torch.save(_CallsTorch(os.system, f'touch {marker}'), legacy, _use_new_zipfile_serialization=False)
    from torch.storage import _load_from_bytes
    data = pickle.dumps(_CallsTorch(_load_from_bytes, legacy.getvalue()), protocol=2)

    assert _error(data).code in (ErrorCode.MODEL_LOAD_FAILED, ErrorCode.FORBIDDEN_GLOBAL)
    assert not marker.exists()


def test_unresolvable_class_reports_class_not_found_naming_it(make_model: Callable[..., Path]) -> None:
    error = _error(make_model('unresolvable'))

    assert error.code is ErrorCode.CLASS_NOT_FOUND
    assert '__main__.MissingNet' in error.message


def test_main_class_without_alias_reports_class_not_found(make_model: Callable[..., Path]) -> None:
    with pytest.raises(ModelLoadError) as caught:
        load_model(make_model('torch_save'), allow_pickle=True, module_aliases={})

    assert caught.value.code is ErrorCode.CLASS_NOT_FOUND and '__main__.Net' in caught.value.message


@pytest.mark.parametrize('data', [b'', b'GDS!not a model', b'\x80\x02garbage', b'PK\x03\x04broken zip'])
def test_corrupt_bytes_fail_with_model_load_failed(data: bytes) -> None:
    assert _error(data).code is ErrorCode.MODEL_LOAD_FAILED


def test_corrupt_fixture_fails_with_model_load_failed(make_model: Callable[..., Path]) -> None:
    error = _error(make_model('corrupt'))

    assert error.code is ErrorCode.MODEL_LOAD_FAILED and error.message.startswith('not a PyTorch model')


def test_a_state_dict_is_not_a_model(tmp_path: Path) -> None:
    path = tmp_path / 'weights.pt'
    torch.save(Net().state_dict(), path)

    error = _error(path, allow_pickle=False)

    assert error.code is ErrorCode.MODEL_LOAD_FAILED and 'OrderedDict' in error.message
