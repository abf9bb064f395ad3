"""Which globals a model pickle may name, and what each one resolves to.

torch.* is NOT allowed wholesale: torch.save writes files, torch.load / torch.hub.load / torch.ops.load_library run
or load code, and torch.storage._load_from_bytes re-enters an unrestricted torch.load on bytes from the pickle.
Only the tensor rebuild functions, dtypes, tensor/storage classes and nn.Module classes are allowed.
"""
import builtins
import codecs
import collections
import copyreg
import importlib
import io
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Mapping

import torch

from gds_ml.errors import ErrorCode, ModelLoadError

# Protocol 2 pickles name Python 2 modules; the default find_class maps them, an override must do it itself.
_RENAMED_MODULES = {'__builtin__': 'builtins', 'copy_reg': 'copyreg', 'torch.tensor': 'torch._tensor'}

_SAFE_BUILTINS = ('set', 'frozenset', 'slice', 'range', 'complex', 'list', 'dict', 'tuple', 'int', 'float', 'bool',
                  'str', 'bytes', 'bytearray', 'object')

_TORCH_FUNCTIONS = ('torch._utils._rebuild_parameter', 'torch._utils._rebuild_parameter_with_state',
                    'torch._utils._rebuild_tensor', 'torch._utils._rebuild_tensor_v2',
                    'torch._utils._rebuild_sparse_tensor', 'torch._utils._rebuild_sparse_csr_tensor',
                    'torch._utils._rebuild_meta_tensor_no_storage', 'torch._utils._rebuild_qtensor',
                    'torch._tensor._rebuild_from_type', 'torch._tensor._rebuild_from_type_v2',
                    'torch.serialization._get_layout')


def _safe_load_from_bytes(data: bytes) -> Any:
    """Replaces torch.storage._load_from_bytes (how pickle.dumps stores tensors), which calls torch.load unsafely."""
    return torch.load(io.BytesIO(data), weights_only=True)


def _latin1_encode(text: str, encoding: str = 'latin1', errors: str = 'strict') -> bytes:
    """Stands in for _codecs.encode, which protocol 2 pickles use to carry bytes; only latin1 is ever needed."""
    if encoding not in ('latin1', 'latin-1'):
        raise ModelLoadError(ErrorCode.FORBIDDEN_GLOBAL, f'forbidden codec in model pickle: {encoding}')
    return codecs.encode(text, 'latin1', errors)


def _weight_globals() -> dict[str, Any]:
    found: dict[str, Any] = {f'builtins.{name}': getattr(builtins, name) for name in _SAFE_BUILTINS}
    found['collections.OrderedDict'] = collections.OrderedDict
    found['_codecs.encode'] = _latin1_encode
    found['torch.storage._load_from_bytes'] = _safe_load_from_bytes
    return found


_WEIGHT_GLOBALS = _weight_globals()
# copyreg._reconstructor only rebuilds protocol 0/1 objects from a class and a base that were themselves checked.
_MODEL_GLOBALS = {'copyreg._reconstructor': copyreg._reconstructor}


@dataclass(frozen=True)
class ResolvedGlobal:
    """What a pickled global name resolves to; is_model_code marks classes that need the DO's allow_pickle."""

    full_name: str
    value: Any
    is_model_code: bool


@dataclass(frozen=True)
class GlobalPolicy:
    """Resolves the globals a model pickle names, raising ModelLoadError for anything outside the allow-list."""

    module_aliases: Mapping[str, str] = field(default_factory=dict)

    def resolve(self, module: str, name: str) -> ResolvedGlobal:
        module = _RENAMED_MODULES.get(module, module)
        full_name = f'{module}.{name}'

        if full_name in _WEIGHT_GLOBALS:
            return ResolvedGlobal(full_name, _WEIGHT_GLOBALS[full_name], False)
        if full_name in _MODEL_GLOBALS:
            return ResolvedGlobal(full_name, _MODEL_GLOBALS[full_name], True)
        if module in self.module_aliases:
            return self._resolve_alias(full_name, self.module_aliases[module], name)
        if module == 'torch' or module.startswith('torch.'):
            return _resolve_torch(full_name, module, name)
        if module == '__main__':
            raise _class_not_found(full_name, 'configure a module alias for __main__')
        raise ModelLoadError(ErrorCode.FORBIDDEN_GLOBAL, f'forbidden global in model pickle: {full_name}')

    def _resolve_alias(self, full_name: str, target: str, name: str) -> ResolvedGlobal:
        value = _lookup(_import(target, full_name), name, full_name)
        is_local_class = isinstance(value, type) and value.__module__ == target
        is_module_class = isinstance(value, type) and issubclass(value, torch.nn.Module)
        if not (is_local_class or is_module_class):
            raise ModelLoadError(ErrorCode.FORBIDDEN_GLOBAL, f'forbidden global in model pickle: {full_name}')

        return ResolvedGlobal(full_name, value, True)


def _resolve_torch(full_name: str, module: str, name: str) -> ResolvedGlobal:
    value = _lookup(_import(module, full_name), name, full_name)

    if full_name in _TORCH_FUNCTIONS or isinstance(value, (torch.dtype, torch.layout, torch.memory_format)):
        return ResolvedGlobal(full_name, value, False)
    if value in (torch.Size, torch.device, torch.Tensor) or _is_tensor_or_storage_class(value):
        return ResolvedGlobal(full_name, value, False)
    if isinstance(value, type) and issubclass(value, torch.nn.Module):
        return ResolvedGlobal(full_name, value, True)
    raise ModelLoadError(ErrorCode.FORBIDDEN_GLOBAL, f'forbidden global in model pickle: {full_name}')


def _is_tensor_or_storage_class(value: Any) -> bool:
    if not isinstance(value, type):
        return False
    return issubclass(value, (torch.Tensor, torch.storage.TypedStorage, torch.UntypedStorage))


def _import(module: str, full_name: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise _class_not_found(full_name, f'module {module} is not importable: {error}') from None


def _lookup(module: ModuleType, name: str, full_name: str) -> Any:
    value: Any = module
    for part in name.split('.'):
        if part.startswith('__') or not hasattr(value, part):
            raise _class_not_found(full_name, f'{module.__name__} has no attribute {name}')
        value = getattr(value, part)
    return value


def _class_not_found(full_name: str, reason: str) -> ModelLoadError:
    return ModelLoadError(ErrorCode.CLASS_NOT_FOUND, f'cannot resolve class {full_name}: {reason}')
