"""Reads what a pickled model or result declares (keys, shapes, dtypes) without running any of its code.

The submitted model may be a full pickled module (torch.save(model) or pickle.dumps(model)), whose loading would run
the customer's code. The structural unpickler below never imports or calls anything the pickle names, except a
short allow-list of inert builders (OrderedDict, set, tuple, ...). Every other class becomes an inert stub that only
records the state pickle hands it; tensors become (shape, dtype) records and no storage byte is read. Calling a stub
(REDUCE, INST, OBJ) is refused, so `os.system` or `eval` in a pickle stops the read before anything runs. The module
tree of stubs (`_parameters`, `_buffers`, `_modules`) then gives the state_dict's structure.

TorchScript is loaded with torch.jit.load, which runs no Python code.

The same reader runs over each result before torch.load(weights_only=True) loads it, so a result with the wrong keys
is rejected without loading a byte of it, and a result cannot make the loader allocate more than its tensors need.
"""
import collections
import io
import pickle
import zipfile
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, Mapping, Optional

import torch

from gds_ml.errors import GdsMlError
from gds_ml.loading import ModelFormat, sniff_format
from gds_ml.policy import GlobalPolicy
from gds_ml.consistency.schemas import Structure, TensorSpec

__all__ = ['StructuralError', 'ResultDeclaration', 'model_structure', 'declared_result']

# A legacy (non-zip) torch.save file: magic number, protocol version and system info come before the object.
_LEGACY_HEADER_PICKLES = 3
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_RENAMED_MODULES = {'__builtin__': 'builtins', 'copy_reg': 'copyreg', 'torch.tensor': 'torch._tensor'}
# Builders a model pickle legitimately calls; each one only rearranges data already in the pickle. int/str/bytes are
# left out on purpose: bytes(10**12) would allocate whatever the pickle asks for.
_CALLABLE_BUILTINS = ('set', 'frozenset', 'list', 'dict', 'tuple', 'slice', 'complex', 'object')
_MAX_MODULE_DEPTH = 256


class StructuralError(Exception):
    """The bytes cannot be read as a model or state_dict without running code, or are not one."""


@dataclass(frozen=True)
class _StorageType:
    """Stands for a storage class (torch.FloatStorage, ...) named in a persistent id; only its dtype matters."""

    name: str
    dtype: torch.dtype


@dataclass(frozen=True)
class _StorageStub:
    key: str
    dtype: torch.dtype
    numel: int


@dataclass(frozen=True)
class _TensorStub:
    shape: tuple[int, ...]
    dtype: torch.dtype
    storage: Optional[_StorageStub]
    layout: str = 'strided'  # or 'sparse', 'sparse_csr', 'quantized', 'meta'


class _InertMeta(type):
    """Metaclass of the stubs: building one through NEWOBJ is allowed, calling one is not."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        raise StructuralError(f'the pickle calls {cls.__gds_name__}, which could run code; refused')


class _Inert(metaclass=_InertMeta):
    """An instance of a class the pickle names: keeps the state pickle gives it, does nothing else."""

    __gds_name__ = ''

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        instance = object.__new__(cls)
        object.__setattr__(instance, '__gds_state__', None)
        return instance

    def __setstate__(self, state: Any) -> None:
        object.__setattr__(self, '__gds_state__', state)


def _storage_types() -> dict[str, _StorageType]:
    found: dict[str, _StorageType] = {}
    for cls in torch._storage_classes:  # type: ignore[attr-defined]
        name = f'{cls.__module__}.{cls.__name__}'
        try:
            found[name] = _StorageType(name, cls.dtype)
        except (AttributeError, RuntimeError):
            found[name] = _StorageType(name, torch.uint8)  # UntypedStorage / TypedStorage: raw bytes
    found['torch.UntypedStorage'] = _StorageType('torch.UntypedStorage', torch.uint8)
    return found


_STORAGE_TYPES = _storage_types()
_DTYPES = {f'torch.{name}': value for name, value in vars(torch).items() if isinstance(value, torch.dtype)}


class _StructuralUnpickler(pickle.Unpickler):
    """Unpickles into stubs. persistent ids become storage records; nothing is read from the storages."""

    def __init__(self, stream: BinaryIO, legacy_storages: bool = False) -> None:
        super().__init__(stream, encoding='utf-8')
        self._legacy = legacy_storages
        self._stubs: dict[str, type] = {}
        self._policy = GlobalPolicy()

    def find_class(self, module: str, name: str) -> Any:
        module = _RENAMED_MODULES.get(module, module)
        full_name = f'{module}.{name}'

        known = _KNOWN_GLOBALS.get(full_name)
        if known is not None:
            return known
        if full_name in _STORAGE_TYPES:
            return _STORAGE_TYPES[full_name]
        if full_name in _DTYPES:
            return _DTYPES[full_name]
        if module == 'builtins' and name in _CALLABLE_BUILTINS or full_name == '_codecs.encode':
            # The loader's policy resolves these too; reuse it so that both agree (e.g. latin1-only encode).
            return self._policy.resolve(module, name).value
        return self._stub(full_name)

    def persistent_load(self, pid: Any) -> Any:
        if not isinstance(pid, tuple) or not pid:
            raise StructuralError('unexpected persistent id in the pickle')
        if pid[0] == 'module' and self._legacy and len(pid) >= 2 and isinstance(pid[1], _InertMeta):
            return pid[1]  # legacy torch.save records a module's class and source; the source is never looked at
        if pid[0] != 'storage' or len(pid) < 5:
            raise StructuralError(f'unexpected persistent id kind {pid[0]!r}')
        storage_type, key, numel = pid[1], str(pid[2]), pid[4]
        if not isinstance(storage_type, _StorageType) or not isinstance(numel, int) or numel < 0:
            raise StructuralError('a storage record names no storage type or a bad size')
        return _StorageStub(key, storage_type.dtype, numel)

    def _stub(self, full_name: str) -> type:
        stub = self._stubs.get(full_name)
        if stub is None:
            stub = _InertMeta(full_name.rsplit('.', 1)[-1], (_Inert,), {'__gds_name__': full_name})
            self._stubs[full_name] = stub
        return stub


def _shape(size: Any) -> tuple[int, ...]:
    if not isinstance(size, (tuple, list)) or not all(isinstance(n, int) and n >= 0 for n in size):
        raise StructuralError('a tensor declares a malformed shape')
    return tuple(size)


def _dtype_of(storage: Any) -> tuple[torch.dtype, Optional[_StorageStub]]:
    if isinstance(storage, _StorageStub):
        return storage.dtype, storage
    raise StructuralError('a tensor is built from something other than a storage')


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any, *rest: Any) -> _TensorStub:
    dtype, stub = _dtype_of(storage)
    return _TensorStub(_shape(size), dtype, stub)


def _rebuild_parameter(data: Any, *rest: Any) -> Any:
    if not isinstance(data, _TensorStub):
        raise StructuralError('a parameter wraps something other than a tensor')
    return data


def _rebuild_meta(dtype: Any, size: Any, *rest: Any) -> _TensorStub:
    if not isinstance(dtype, torch.dtype):
        raise StructuralError('a meta tensor declares no dtype')
    return _TensorStub(_shape(size), dtype, None, 'meta')


def _rebuild_not_dense(layout: str) -> Callable[..., _TensorStub]:
    def rebuild(*args: Any) -> _TensorStub:
        return _TensorStub((), torch.uint8, None, layout)

    return rebuild


def _rebuild_from_type(func: Any, new_type: Any, args: Any, state: Any = None) -> Any:
    if func not in _REBUILDERS or not isinstance(args, tuple):
        raise StructuralError('a tensor subclass is rebuilt by something other than a tensor rebuild function')
    return func(*args)


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """copyreg._reconstructor for protocol 0/1 objects: only stubs of plain objects, nothing else."""
    if not isinstance(cls, _InertMeta) or base is not object or state is not None:
        raise StructuralError('copyreg._reconstructor may only rebuild plain objects')
    return cls.__new__(cls)


def _load_from_bytes(data: Any) -> Any:
    """pickle.dumps(tensor) stores each storage as torch.save bytes; read those structurally too."""
    if not isinstance(data, bytes):
        raise StructuralError('a storage is stored as something other than bytes')
    return _read_torch_save(io.BytesIO(data))


_REBUILDERS = (_rebuild_tensor, _rebuild_parameter, _rebuild_meta)
_KNOWN_GLOBALS: dict[str, Any] = {
    'torch._utils._rebuild_tensor': _rebuild_tensor,
    'torch._utils._rebuild_tensor_v2': _rebuild_tensor,
    'torch._utils._rebuild_parameter': _rebuild_parameter,
    'torch._utils._rebuild_parameter_with_state': _rebuild_parameter,
    'torch._utils._rebuild_meta_tensor_no_storage': _rebuild_meta,
    'torch._utils._rebuild_sparse_tensor': _rebuild_not_dense('sparse'),
    'torch._utils._rebuild_sparse_csr_tensor': _rebuild_not_dense('sparse_csr'),
    'torch._utils._rebuild_qtensor': _rebuild_not_dense('quantized'),
    'torch._tensor._rebuild_from_type': _rebuild_from_type,
    'torch._tensor._rebuild_from_type_v2': _rebuild_from_type,
    'torch.storage._load_from_bytes': _load_from_bytes,
    'torch.serialization._get_layout': torch.serialization._get_layout,  # type: ignore[attr-defined]
    'torch.Size': torch.Size,
    'torch.device': torch.device,
    'collections.OrderedDict': collections.OrderedDict,
    'copyreg._reconstructor': _reconstructor,
}


def _unpickle(stream: BinaryIO, legacy_storages: bool = False) -> Any:
    try:
        return _StructuralUnpickler(stream, legacy_storages).load()
    except StructuralError:
        raise
    except RecursionError:
        raise StructuralError('the pickle nests too deeply') from None
    except Exception as error:  # noqa: BLE001 - any decoder failure on untrusted bytes means "unreadable"
        raise StructuralError(f'unreadable pickle: {_short(error)}') from None


def _read_torch_save(stream: BinaryIO) -> Any:
    """The object a torch.save file holds, as stubs: zip (data.pkl) or legacy (the fourth pickle)."""
    head = stream.read(4)
    stream.seek(0)
    if head == b'PK\x03\x04':
        return _read_zip(stream)
    if head[:1] == b'\x80':
        return _read_legacy(stream)
    raise StructuralError(f'not a torch.save file: leading bytes {head.hex() or "(empty)"}')


def _read_zip(stream: BinaryIO) -> Any:
    try:
        with zipfile.ZipFile(stream) as archive:
            names = [info for info in archive.infolist() if info.filename.rsplit('/', 1)[-1] == 'data.pkl']
            if len(names) != 1 or names[0].filename.count('/') != 1:
                raise StructuralError('a torch.save archive holds exactly one <folder>/data.pkl')
            with archive.open(names[0]) as pickled:
                return _unpickle(io.BytesIO(pickled.read()))
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise StructuralError(f'broken zip archive: {_short(error)}') from None


def _read_legacy(stream: BinaryIO) -> Any:
    magic = _unpickle(stream)
    if magic != _LEGACY_MAGIC:
        raise StructuralError('a pickle stream that is not a torch.save file')
    for _ in range(_LEGACY_HEADER_PICKLES - 1):
        _unpickle(stream)
    return _unpickle(stream, legacy_storages=True)


def _short(error: BaseException) -> str:
    text = f'{type(error).__name__}: {error}'
    return text if len(text) <= 300 else text[:297] + '...'


# ---------------------------------------------------------------------------------------------------------------
# Models


def model_structure(path: str) -> tuple[Structure, ModelFormat]:
    """The state_dict structure of the submitted model, and its format; raises StructuralError."""
    try:
        model_format = sniff_format(path)
    except GdsMlError as error:
        raise StructuralError(error.message) from None

    if model_format is ModelFormat.TORCHSCRIPT:
        return _torchscript_structure(path), model_format
    with open(path, 'rb') as stream:
        root = _read_torch_save(stream) if model_format is ModelFormat.TORCH_SAVE else _unpickle(stream)
    return _structure_of(root), model_format


def _torchscript_structure(path: str) -> Structure:
    try:
        module = torch.jit.load(path, map_location='cpu')
    except Exception as error:  # noqa: BLE001 - a broken archive is just unreadable
        raise StructuralError(f'unreadable TorchScript archive: {_short(error)}') from None
    return {key: TensorSpec(tuple(value.shape), value.dtype) for key, value in module.state_dict().items()}


def _structure_of(root: Any) -> Structure:
    if isinstance(root, Mapping):
        return _flat_structure(root)
    if not isinstance(root, _Inert):
        raise StructuralError(f'not a torch.nn.Module: the pickle holds a {type(root).__name__}')
    found: Structure = {}
    _walk(root, '', found, set(), 0)
    if not found:
        raise StructuralError('the model has no parameters or buffers')
    return found


def _flat_structure(root: Mapping[Any, Any]) -> Structure:
    if not all(isinstance(key, str) and isinstance(value, _TensorStub) for key, value in root.items()):
        raise StructuralError('not a torch.nn.Module: the pickle holds a mapping that is not a state_dict')
    return {key: TensorSpec(value.shape, value.dtype) for key, value in root.items()}


def _walk(module: Any, prefix: str, found: Structure, path: set[int], depth: int) -> None:
    """nn.Module.state_dict's order: own parameters, own persistent buffers, then each child module."""
    state = object.__getattribute__(module, '__gds_state__')
    if not isinstance(state, dict):
        raise StructuralError(f'module {prefix or "(root)"} has no module state')
    if id(module) in path or depth > _MAX_MODULE_DEPTH:
        raise StructuralError(f'module {prefix or "(root)"} contains itself or nests too deeply')
    path.add(id(module))

    non_persistent = state.get('_non_persistent_buffers_set') or set()
    for name, tensor in _entries(state, '_parameters', prefix):
        found[prefix + name] = _spec(tensor, prefix + name)
    for name, tensor in _entries(state, '_buffers', prefix):
        if name not in non_persistent:
            found[prefix + name] = _spec(tensor, prefix + name)
    for name, child in _entries(state, '_modules', prefix):
        if not isinstance(child, _Inert):
            raise StructuralError(f'{prefix + name} is not a module')
        _walk(child, f'{prefix}{name}.', found, path, depth + 1)

    path.discard(id(module))


def _entries(state: dict[str, Any], field: str, prefix: str) -> list[tuple[str, Any]]:
    entries = state.get(field) or {}
    if not isinstance(entries, Mapping) or not all(isinstance(key, str) for key in entries):
        raise StructuralError(f'module {prefix or "(root)"} has a malformed {field}')
    return [(name, value) for name, value in entries.items() if value is not None]


def _spec(tensor: Any, key: str) -> TensorSpec:
    if not isinstance(tensor, _TensorStub):
        raise StructuralError(f'{key} is not a tensor')
    if tensor.layout != 'strided':
        raise StructuralError(f'{key} is a {tensor.layout} tensor; only dense tensors can be checked')
    return TensorSpec(tensor.shape, tensor.dtype)


# ---------------------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class ResultDeclaration:
    """What a result file says it holds, before any tensor is loaded."""

    tensors: dict[str, TensorSpec]
    # Keys whose tensor is sparse, quantized or storage-less, with that layout.
    not_dense: dict[str, str]
    # Bytes the loader would allocate for storages (each storage once).
    storage_bytes: int


def declared_result(path: str) -> ResultDeclaration:
    """Reads a result's declared state_dict; raises StructuralError for anything else."""
    with open(path, 'rb') as stream:
        root = _read_torch_save(stream)
    if not isinstance(root, Mapping):
        raise StructuralError(f'the result holds a {type(root).__name__}, not a state_dict')

    tensors: dict[str, TensorSpec] = {}
    not_dense: dict[str, str] = {}
    storages: dict[str, int] = {}
    for key, value in root.items():
        if not isinstance(key, str) or not isinstance(value, _TensorStub):
            raise StructuralError(f'the entry {str(key)[:80]!r} is not a named tensor')
        tensors[key] = TensorSpec(value.shape, value.dtype)
        if value.layout != 'strided':
            not_dense[key] = value.layout
        if value.storage is not None:
            storages[value.storage.key] = value.storage.numel * TensorSpec((), value.storage.dtype).nbytes
    return ResultDeclaration(tensors, not_dense, sum(storages.values()))
