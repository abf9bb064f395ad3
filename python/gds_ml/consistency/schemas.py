"""Plain data passed between the parts of the check; the proto messages are built from these at the edge."""
import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Optional

import torch

# Defaults, chosen from measurements of honest runs (bench/consistency/tolerance.py, results in
# bench/out/consistency-tolerance.md): honest runs on differently configured CPUs differ by <= 5.0e-7 (max abs) and
# <= 2.4e-7 (relative L2); the nearest fault we must catch (noise of 1e-3) by >= 2.0e-3 and >= 4.0e-3.
DEFAULT_MAX_ABS_DIFF = 1e-5
RELATIVE_L2_PER_MAX_ABS = 10.0


class Rule(str, Enum):
    """Why a result is not accepted; the names match the proto's Rule enum without its RULE_ prefix."""

    ACCEPTED = 'UNSPECIFIED'
    UNREADABLE = 'UNREADABLE'
    NOT_A_STATE_DICT = 'NOT_A_STATE_DICT'
    MISSING_KEY = 'MISSING_KEY'
    UNEXPECTED_KEY = 'UNEXPECTED_KEY'
    SHAPE_MISMATCH = 'SHAPE_MISMATCH'
    DTYPE_MISMATCH = 'DTYPE_MISMATCH'
    NOT_DENSE = 'NOT_DENSE'
    NON_FINITE = 'NON_FINITE'
    OUT_OF_TOLERANCE = 'OUT_OF_TOLERANCE'
    NO_QUORUM = 'NO_QUORUM'
    MODEL_UNREADABLE = 'MODEL_UNREADABLE'


class Verdict(str, Enum):
    CONSISTENT = 'CONSISTENT'
    INCONSISTENT = 'INCONSISTENT'


class Rejection(Exception):
    """A result (or the model) breaks a rule; the message says where and how."""

    def __init__(self, rule: Rule, reason: str) -> None:
        super().__init__(f'{rule.value}: {reason}')
        self.rule = rule
        self.reason = reason


@dataclass(frozen=True)
class TensorSpec:
    shape: tuple[int, ...]
    dtype: torch.dtype

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.numel * _itemsize(self.dtype)

    def describe(self) -> str:
        return f'{list(self.shape)} {str(self.dtype).replace("torch.", "")}'


def _itemsize(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


# The keys of a state_dict, in the model's order, with what each tensor must be.
Structure = dict[str, TensorSpec]


@dataclass(frozen=True)
class Tolerance:
    """Two tensors agree when max |a - b| <= max_abs_diff and their relative L2 distance <= relative_l2."""

    max_abs_diff: float = DEFAULT_MAX_ABS_DIFF
    relative_l2: float = DEFAULT_MAX_ABS_DIFF * RELATIVE_L2_PER_MAX_ABS

    @staticmethod
    def resolve(max_abs_diff: float = 0.0, relative_l2: float = 0.0) -> 'Tolerance':
        """Fills in defaults for zeros (proto3's "unset")."""
        absolute = max_abs_diff if max_abs_diff > 0 else DEFAULT_MAX_ABS_DIFF
        relative = relative_l2 if relative_l2 > 0 else absolute * RELATIVE_L2_PER_MAX_ABS
        return Tolerance(absolute, relative)


@dataclass
class TensorDistance:
    """How far two results are apart on one tensor."""

    max_abs: float
    l2: float


@dataclass
class PairStats:
    """An exact comparison of two results, tensor by tensor, in structure order."""

    distances: list[TensorDistance]


@dataclass
class ResultOutcome:
    execution_id: str
    sha256: str
    accepted: bool = False
    rule: Rule = Rule.ACCEPTED
    reason: str = ''
    max_abs_diff: float = -1.0
    relative_l2: float = -1.0


@dataclass
class CheckStats:
    loads: int = 0
    comparisons: int = 0
    busy_seconds: float = 0.0


@dataclass
class CheckOutcome:
    verdict: Verdict
    canonical_execution_id: str
    results: list[ResultOutcome]
    tolerance: Tolerance
    quorum: int
    largest_group: int
    model_format: str
    stats: CheckStats = field(default_factory=CheckStats)
    model_error: Optional[str] = None
