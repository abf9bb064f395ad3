"""Exits 0 when two saved state_dicts hold the same keys and exactly equal tensors, else lists what differs.

  python -m gds_ml.compare A B      exit 0 equal, 1 different, 2 unreadable
"""
import sys
from typing import Any, Optional

import torch


def differing_keys(left: dict[str, Any], right: dict[str, Any]) -> list[str]:
    """Keys present on one side only, or whose tensors differ in shape, dtype or any value."""
    keys = sorted(set(left) | set(right))
    return [key for key in keys if key not in left or key not in right or not _equal(left[key], right[key])]


def _equal(left: Any, right: Any) -> bool:
    if not (isinstance(left, torch.Tensor) and isinstance(right, torch.Tensor)):
        return False
    return left.dtype == right.dtype and left.shape == right.shape and torch.equal(left, right)


def main(argv: Optional[list[str]] = None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    if len(paths) != 2:
        print('usage: python -m gds_ml.compare A B', file=sys.stderr)
        return 2
    try:
        left, right = (torch.load(path, map_location='cpu', weights_only=True) for path in paths)
    except Exception as error:  # noqa: BLE001 - any unreadable file is one outcome for the caller
        print(f'cannot load state_dict: {error}', file=sys.stderr)
        return 2

    differing = differing_keys(dict(left), dict(right))
    for key in differing:
        print(key)
    return 1 if differing else 0


if __name__ == '__main__':
    sys.exit(main())
