"""Stable error codes shared with the Data Owner agent (they travel in ExecutionError.code)."""
from enum import Enum


class ErrorCode(str, Enum):
    MODEL_LOAD_FAILED = 'MODEL_LOAD_FAILED'
    PICKLE_NOT_ALLOWED = 'PICKLE_NOT_ALLOWED'
    CLASS_NOT_FOUND = 'CLASS_NOT_FOUND'
    FORBIDDEN_GLOBAL = 'FORBIDDEN_GLOBAL'
    BAD_SPEC = 'BAD_SPEC'
    BAD_ARGUMENTS = 'BAD_ARGUMENTS'
    DATASET_UNAVAILABLE = 'DATASET_UNAVAILABLE'
    TRAINING_FAILED = 'TRAINING_FAILED'


class GdsMlError(Exception):
    """An expected failure with a stable code and a message safe to show to the Query Customer."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f'{code.value}: {message}')
        self.code = code
        self.message = message


class ModelLoadError(GdsMlError):
    """The model bytes could not be turned into a torch.nn.Module safely."""


class TrainingError(GdsMlError):
    """The spec, the dataset or the training run itself failed."""
