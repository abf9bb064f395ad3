"""Loads results weights-only and measures them: norms, finiteness and distances, chunk by chunk.

Chunks of 256 Ki elements keep every temporary in the CPU cache and the memory of a comparison at the two results
themselves: nothing is allocated in proportion to a tensor. One pass over a result computes both its norms (which
also tells whether it is finite: the sum of squares of a tensor holding a NaN or an infinity is not finite) and its
distance to the anchor.
"""
import math
import zipfile
from typing import Any, Mapping

import torch

from gds_ml.consistency.schemas import Rejection, Rule, Structure, TensorDistance, TensorSpec
from gds_ml.consistency.structure import ResultDeclaration, StructuralError, declared_result

__all__ = ['LoadedResult', 'load_result', 'measure', 'measure_against', 'compare']

CHUNK_ELEMENTS = 1 << 18
# A result may hold storages larger than its tensors (views of one flat buffer); beyond this it is refused unloaded.
_STORAGE_SLACK_FACTOR = 2
_STORAGE_SLACK_BYTES = 1 << 20
_MAX_LISTED = 3


class LoadedResult:
    """A result's tensors, flattened, in structure order."""

    def __init__(self, tensors: list[torch.Tensor]) -> None:
        self.tensors = tensors


def load_result(path: str, structure: Structure) -> LoadedResult:
    """Checks what the file declares against the structure, then loads it weights-only; raises Rejection."""
    _check_declaration(_declaration(path), structure)
    _check_zip_records(path)

    try:
        loaded = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # noqa: BLE001 - whatever the loader refuses is unreadable
        raise Rejection(Rule.UNREADABLE, f'not loadable weights-only: {_short(error)}') from None

    return LoadedResult(_checked_tensors(loaded, structure))


def _declaration(path: str) -> ResultDeclaration:
    try:
        return declared_result(path)
    except StructuralError as error:
        rule = Rule.NOT_A_STATE_DICT if 'not a state_dict' in str(error) else Rule.UNREADABLE
        raise Rejection(rule, str(error)) from None


def _check_declaration(declared: ResultDeclaration, structure: Structure) -> None:
    _check_keys(declared.tensors.keys(), structure)
    if declared.not_dense:
        key, layout = next(iter(declared.not_dense.items()))
        raise Rejection(Rule.NOT_DENSE, f'{key} is a {layout} tensor; the model\'s is dense')
    for key, spec in structure.items():
        _check_spec(key, declared.tensors[key], spec)

    expected = sum(spec.nbytes for spec in structure.values())
    if declared.storage_bytes > _STORAGE_SLACK_FACTOR * expected + _STORAGE_SLACK_BYTES:
        raise Rejection(Rule.UNREADABLE,
                        f'declares {declared.storage_bytes} bytes of storage for {expected} bytes of tensors')


def _check_keys(keys: Any, structure: Structure) -> None:
    present = set(keys)
    missing = [key for key in structure if key not in present]
    if missing:
        raise Rejection(Rule.MISSING_KEY, f'{_listed(missing)} missing (the model has {len(structure)} keys)')
    unexpected = sorted(present - set(structure))
    if unexpected:
        raise Rejection(Rule.UNEXPECTED_KEY, f'{_listed(unexpected)} not in the model')


def _check_spec(key: str, actual: TensorSpec, expected: TensorSpec) -> None:
    if actual.shape != expected.shape:
        raise Rejection(Rule.SHAPE_MISMATCH,
                        f'{key} has shape {list(actual.shape)}, the model\'s has {list(expected.shape)}')
    if actual.dtype != expected.dtype:
        raise Rejection(Rule.DTYPE_MISMATCH, f'{key} is {_name(actual.dtype)}, the model\'s is {_name(expected.dtype)}')


def _check_zip_records(path: str) -> None:
    """torch.save stores records uncompressed; a compressed one could inflate far beyond the file's size."""
    if not zipfile.is_zipfile(path):
        return
    with zipfile.ZipFile(path) as archive:
        compressed = [info.filename for info in archive.infolist() if info.compress_type != zipfile.ZIP_STORED]
    if compressed:
        raise Rejection(Rule.UNREADABLE, f'compressed records, which torch.save never writes: {_listed(compressed)}')


def _checked_tensors(loaded: Any, structure: Structure) -> list[torch.Tensor]:
    """The same checks again on what torch built, so that the two readers cannot disagree unnoticed."""
    if not isinstance(loaded, Mapping):
        raise Rejection(Rule.NOT_A_STATE_DICT, f'the result holds a {type(loaded).__name__}, not a state_dict')
    _check_keys(loaded.keys(), structure)

    tensors: list[torch.Tensor] = []
    for key, spec in structure.items():
        value = loaded[key]
        if not isinstance(value, torch.Tensor):
            raise Rejection(Rule.NOT_A_STATE_DICT, f'{key} is a {type(value).__name__}, not a tensor')
        if value.layout != torch.strided or value.is_meta or value.is_quantized:
            raise Rejection(Rule.NOT_DENSE, f'{key} is not a dense tensor with storage')
        _check_spec(key, TensorSpec(tuple(value.shape), value.dtype), spec)
        tensors.append(value.detach().reshape(-1))
    return tensors


# ---------------------------------------------------------------------------------------------------------------
# Measuring


def measure(result: LoadedResult, keys: list[str]) -> list[float]:
    """L2 norm of every tensor; raises Rejection(NON_FINITE) for a NaN or an infinity."""
    norms = []
    for key, tensor in zip(keys, result.tensors):
        squares = 0.0
        for start in range(0, tensor.numel(), CHUNK_ELEMENTS):
            chunk = _real(tensor[start:start + CHUNK_ELEMENTS])
            squares += float(torch.dot(chunk, chunk))
        norms.append(_norm(key, tensor, squares))
    return norms


def measure_against(anchor: LoadedResult, result: LoadedResult,
                    keys: list[str]) -> tuple[list[float], list[TensorDistance]]:
    """Norms of `result` and its distance to `anchor`, tensor by tensor, in one pass."""
    norms: list[float] = []
    distances: list[TensorDistance] = []
    buffers: dict[torch.dtype, torch.Tensor] = {}

    for key, ours, theirs in zip(keys, result.tensors, anchor.tensors):
        squares, distance = _pass(ours, theirs, buffers)
        norms.append(_norm(key, ours, squares))
        distances.append(distance)
    return norms, distances


def compare(left: LoadedResult, right: LoadedResult) -> list[TensorDistance]:
    """Distances between two results already known to be finite."""
    buffers: dict[torch.dtype, torch.Tensor] = {}
    return [_pass(ours, theirs, buffers)[1] for ours, theirs in zip(left.tensors, right.tensors)]


def _pass(ours: torch.Tensor, theirs: torch.Tensor,
          buffers: dict[torch.dtype, torch.Tensor]) -> tuple[float, TensorDistance]:
    squares, max_abs, diff_squares = 0.0, 0.0, 0.0

    for start in range(0, ours.numel(), CHUNK_ELEMENTS):
        mine = _real(ours[start:start + CHUNK_ELEMENTS])
        other = _real(theirs[start:start + CHUNK_ELEMENTS])
        squares += float(torch.dot(mine, mine))

        diff = _buffer(buffers, mine.dtype, mine.numel())
        torch.sub(mine, other, out=diff)
        diff.abs_()
        max_abs = max(max_abs, float(diff.max()))
        diff_squares += float(torch.dot(diff, diff))

    return squares, TensorDistance(max_abs, math.sqrt(diff_squares))


def _buffer(buffers: dict[torch.dtype, torch.Tensor], dtype: torch.dtype, size: int) -> torch.Tensor:
    buffer = buffers.get(dtype)
    if buffer is None:
        buffer = buffers[dtype] = torch.empty(2 * CHUNK_ELEMENTS, dtype=dtype)
    return buffer[:size]


def _real(chunk: torch.Tensor) -> torch.Tensor:
    """A float view or copy of a chunk: complex as (re, im) pairs, halves as float32, integers as float64."""
    if chunk.is_complex():
        return torch.view_as_real(chunk).reshape(-1)
    if chunk.dtype in (torch.float32, torch.float64):
        return chunk
    if chunk.is_floating_point():
        return chunk.float()
    return chunk.to(torch.float64)


def _norm(key: str, tensor: torch.Tensor, squares: float) -> float:
    if math.isfinite(squares):
        return math.sqrt(squares)

    finite = _real_all(tensor).isfinite()
    nan = int(_real_all(tensor).isnan().sum())
    bad = finite.numel() - int(finite.sum())
    if bad:
        first = int((~finite).nonzero()[0][0])
        raise Rejection(Rule.NON_FINITE, f'{key} holds {nan} NaN and {bad - nan} infinite values (first at index '
                                         f'{first // 2 if tensor.is_complex() else first})')
    # Finite values whose squares overflow float32: measure again in float64.
    return float(torch.linalg.vector_norm(_real_all(tensor), dtype=torch.float64))


def _real_all(tensor: torch.Tensor) -> torch.Tensor:
    return torch.view_as_real(tensor).reshape(-1) if tensor.is_complex() else tensor


def relative_l2(distance: TensorDistance, left_norm: float, right_norm: float, numel: int,
                max_abs_floor: float) -> float:
    """||a - b|| / max(||a||, ||b||, sqrt(n) * floor): see Tolerance in the sidecar proto."""
    denominator = max(left_norm, right_norm, math.sqrt(numel) * max_abs_floor)
    return distance.l2 / denominator if denominator > 0 else (0.0 if distance.l2 == 0 else math.inf)


def _listed(names: list[str]) -> str:
    shown = ', '.join(names[:_MAX_LISTED])
    return shown + (f' and {len(names) - _MAX_LISTED} more' if len(names) > _MAX_LISTED else '')


def _name(dtype: torch.dtype) -> str:
    return str(dtype).replace('torch.', '')


def _short(error: BaseException) -> str:
    text = f'{type(error).__name__}: {error}'
    return text if len(text) <= 300 else text[:297] + '...'
