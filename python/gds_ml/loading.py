"""Loads a Query Customer's model from bytes or a file, sniffing the format from the bytes themselves.

TorchScript loads without running Python code. torch.save(model) and pickle.dumps(model) run pickled code on load, so
they load only with allow_pickle, and even then through a restricted unpickler (see gds_ml.policy).
"""
import contextlib
import io
import logging
import os
import pickle
import pickletools
import zipfile
from dataclasses import dataclass
from enum import Enum
from types import SimpleNamespace
from typing import Any, BinaryIO, Iterator, Mapping, Optional, Union

import torch

from gds_ml.errors import ErrorCode, ModelLoadError
from gds_ml.pickle_scan import UNKNOWN, scan_globals
from gds_ml.policy import GlobalPolicy

__all__ = ['ModelFormat', 'LoadedModel', 'ModelLoadError', 'ModelSource', 'sniff_format', 'load_model']

ModelSource = Union[bytes, bytearray, str, 'os.PathLike[str]', BinaryIO]

_ZIP_MAGIC = b'PK\x03\x04'
_PICKLE_PROTO = 0x80
# torch.serialization.MAGIC_NUMBER, the first pickle of a legacy (non-zip) torch.save file.
_LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C
# A legacy torch.save file is five pickles (magic, version, sys info, object, storage keys) and then raw storages.
_LEGACY_PICKLES = 5

log = logging.getLogger('gds_ml.loading')


class ModelFormat(str, Enum):
    TORCH_SAVE = 'torch_save'
    PICKLE = 'pickle'
    TORCHSCRIPT = 'torchscript'


class _Container(Enum):
    TORCHSCRIPT_ZIP = 'torchscript_zip'
    TORCH_SAVE_ZIP = 'torch_save_zip'
    TORCH_SAVE_LEGACY = 'torch_save_legacy'
    PICKLE = 'pickle'


_FORMATS = {
    _Container.TORCHSCRIPT_ZIP: ModelFormat.TORCHSCRIPT,
    _Container.TORCH_SAVE_ZIP: ModelFormat.TORCH_SAVE,
    _Container.TORCH_SAVE_LEGACY: ModelFormat.TORCH_SAVE,
    _Container.PICKLE: ModelFormat.PICKLE,
}


@dataclass(frozen=True)
class LoadedModel:
    module: torch.nn.Module
    format: ModelFormat


def sniff_format(source: ModelSource) -> ModelFormat:
    """The model format the bytes actually hold; raises ModelLoadError(MODEL_LOAD_FAILED) for anything else."""
    with _open_source(source) as stream:
        return _FORMATS[_sniff_container(stream)]


def load_model(source: ModelSource, allow_pickle: bool = False,
               module_aliases: Optional[Mapping[str, str]] = None) -> LoadedModel:
    """Loads a torch.nn.Module in the safest way its format allows."""
    policy = GlobalPolicy(dict(module_aliases or {}))

    with _open_source(source) as stream:
        container = _sniff_container(stream)
        log.info('model.sniffed', extra={'container': container.value})
        module = _guarded(lambda: _load_container(stream, container, policy, allow_pickle))

    if not isinstance(module, torch.nn.Module):
        raise ModelLoadError(ErrorCode.MODEL_LOAD_FAILED,
                             f'not a PyTorch model: the file holds a {type(module).__name__}, not a torch.nn.Module')
    return LoadedModel(module, _FORMATS[container])


@contextlib.contextmanager
def _open_source(source: ModelSource) -> Iterator[BinaryIO]:
    if isinstance(source, (bytes, bytearray)):
        yield io.BytesIO(bytes(source))
        return
    if hasattr(source, 'read'):
        yield source  # type: ignore[misc]
        return
    try:
        stream = open(source, 'rb')  # type: ignore[arg-type]
    except OSError as error:
        raise ModelLoadError(ErrorCode.MODEL_LOAD_FAILED, f'cannot read model file: {error}') from None
    with stream:
        yield stream


def _sniff_container(stream: BinaryIO) -> _Container:
    head = stream.read(4)
    stream.seek(0)

    if head == _ZIP_MAGIC:
        return _sniff_zip(stream)
    if head[:1] == bytes([_PICKLE_PROTO]):
        return _Container.TORCH_SAVE_LEGACY if _starts_with_torch_magic(stream) else _Container.PICKLE
    raise ModelLoadError(ErrorCode.MODEL_LOAD_FAILED,
                         f'not a PyTorch model: unrecognised leading bytes {head.hex() or "(empty)"}')


def _sniff_zip(stream: BinaryIO) -> _Container:
    names = _zip_names(stream)

    if any('/code/' in f'/{name}' for name in names) or any(_basename(name) == 'constants.pkl' for name in names):
        return _Container.TORCHSCRIPT_ZIP
    if any(_basename(name) == 'data.pkl' for name in names):
        return _Container.TORCH_SAVE_ZIP
    raise ModelLoadError(ErrorCode.MODEL_LOAD_FAILED, 'not a PyTorch model: a zip archive without data.pkl')


def _zip_names(stream: BinaryIO) -> list[str]:
    try:
        with zipfile.ZipFile(stream) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError) as error:
        raise ModelLoadError(ErrorCode.MODEL_LOAD_FAILED, f'not a PyTorch model: broken zip archive: {error}') from None
    finally:
        stream.seek(0)


def _basename(name: str) -> str:
    return name.rsplit('/', 1)[-1]


def _starts_with_torch_magic(stream: BinaryIO) -> bool:
    try:
        for opcode, arg, _ in pickletools.genops(stream):
            if opcode.name not in ('PROTO', 'FRAME'):
                return opcode.name in ('LONG1', 'LONG4') and arg == _LEGACY_TORCH_MAGIC
        return False
    except Exception:  # noqa: BLE001 - undecodable bytes are simply not the torch magic
        return False
    finally:
        stream.seek(0)


def _guarded(load: Any) -> Any:
    try:
        return load()
    except ModelLoadError:
        raise
    except Exception as error:  # noqa: BLE001 - every decoder error of untrusted bytes means "not loadable"
        raise ModelLoadError(ErrorCode.MODEL_LOAD_FAILED, f'not a PyTorch model: {_short(error)}') from error


def _short(error: Exception) -> str:
    text = f'{type(error).__name__}: {error}'
    return text if len(text) <= 500 else text[:497] + '...'


def _load_container(stream: BinaryIO, container: _Container, policy: GlobalPolicy, allow_pickle: bool) -> Any:
    if container is _Container.TORCHSCRIPT_ZIP:
        return torch.jit.load(stream, map_location='cpu')

    _check_globals(_pickled_globals(stream, container), policy, allow_pickle)
    stream.seek(0)

    restricted = _restricted_pickle_module(policy, allow_pickle)
    if container is _Container.PICKLE:
        return restricted.Unpickler(stream).load()
    return _torch_load_restricted(stream, container, restricted)


def _torch_load_restricted(stream: BinaryIO, container: _Container, restricted: SimpleNamespace) -> Any:
    """torch.load minus its pickle_module override.

    torch 1.13 replaces any pickle_module with the plain pickle module unless weights_only is set, so passing our
    restricted module to torch.load would silently load unrestricted (pytorch/pytorch#88438, fixed in torch 2.0 by
    #88570). Its private loaders do honour pickle_module; retire this once the DOs run torch >= 2.0.
    """
    serialization: Any = torch.serialization
    if container is _Container.TORCH_SAVE_LEGACY:
        return serialization._legacy_load(stream, 'cpu', restricted, encoding='utf-8')
    with serialization._open_zipfile_reader(stream) as archive:
        return serialization._load(archive, 'cpu', restricted, encoding='utf-8')


def _pickled_globals(stream: BinaryIO, container: _Container) -> list[tuple[str, str]]:
    if container is _Container.TORCH_SAVE_ZIP:
        with zipfile.ZipFile(stream) as archive:
            data_pkl = next(name for name in archive.namelist() if _basename(name) == 'data.pkl')
            with archive.open(data_pkl) as pickled:
                return scan_globals(pickled)  # type: ignore[arg-type]

    count = _LEGACY_PICKLES if container is _Container.TORCH_SAVE_LEGACY else 1
    found: list[tuple[str, str]] = []
    for _ in range(count):
        found.extend(scan_globals(stream))
    return found


def _check_globals(names: list[tuple[str, str]], policy: GlobalPolicy, allow_pickle: bool) -> None:
    """Refuses before anything runs: forbidden names first, then model code without allow_pickle."""
    failures: list[ModelLoadError] = []
    needs_pickle = UNKNOWN in names

    for module, name in dict.fromkeys(names):
        if (module, name) == UNKNOWN:
            continue
        try:
            needs_pickle = policy.resolve(module, name).is_model_code or needs_pickle
        except ModelLoadError as error:
            failures.append(error)

    forbidden = [error for error in failures if error.code is ErrorCode.FORBIDDEN_GLOBAL]
    if forbidden:
        raise forbidden[0]
    if (needs_pickle or failures) and not allow_pickle:
        raise ModelLoadError(ErrorCode.PICKLE_NOT_ALLOWED,
                             'the model is a full pickled module, which runs code on load; '
                             'the Data Owner has not allowed pickled models (use TorchScript instead)')
    if failures:
        raise failures[0]


def _restricted_pickle_module(policy: GlobalPolicy, allow_pickle: bool) -> SimpleNamespace:
    """A stand-in for the pickle module that torch.load accepts as pickle_module (it subclasses .Unpickler)."""

    class RestrictedUnpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            resolved = policy.resolve(module, name)
            if resolved.is_model_code and not allow_pickle:
                message = f'pickled model code is not allowed: {resolved.full_name}'
                raise ModelLoadError(ErrorCode.PICKLE_NOT_ALLOWED, message)
            return resolved.value

    def load(file: BinaryIO, **kwargs: Any) -> Any:
        return RestrictedUnpickler(file, **kwargs).load()

    return SimpleNamespace(__name__='gds_ml.restricted_pickle', Unpickler=RestrictedUnpickler, load=load)
