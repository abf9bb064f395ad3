"""Writes model fixtures in every format a Query Customer may send, plus hostile ones.

  python -m gds_ml.fixtures --kind torch_save|pickle|torchscript|corrupt|unresolvable|malicious|malicious_torch_save
      --out PATH [--seed N] [--marker PATH]
"""
import argparse
import contextlib
import os
import pickle
import random
import sys
from typing import Any, Callable, Iterator

import torch
import torch.nn as nn

from gds_ml.demo_models import Net

KINDS = ('torch_save', 'pickle', 'torchscript', 'corrupt', 'unresolvable', 'malicious', 'malicious_torch_save')


class MainNet(Net):
    """The seed's Net as the Query Customer's notebook pickles it: named `__main__.Net`."""


class MissingNet(nn.Module):
    """A class no Data Owner has: pickled as `__main__.MissingNet`."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(5, 1)


class Exploit:
    """Loading this pickle would run `touch <marker>`; the loader must refuse it before that happens."""

    def __init__(self, marker: str) -> None:
        self.command = f'touch {marker}'

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
        return (os.system, (self.command,))


@contextlib.contextmanager
def pickled_as_main(cls: type, name: str) -> Iterator[None]:
    """Makes pickle write `__main__.<name>` for cls, as it does for a class defined in the QC's script."""
    main = sys.modules['__main__']
    saved = (cls.__module__, cls.__name__, cls.__qualname__, main.__dict__.get(name))
    cls.__module__, cls.__name__, cls.__qualname__ = '__main__', name, name
    setattr(main, name, cls)
    try:
        yield
    finally:
        cls.__module__, cls.__name__, cls.__qualname__ = saved[:3]
        if saved[3] is None:
            delattr(main, name)
        else:
            setattr(main, name, saved[3])


def write_fixture(kind: str, out: str, seed: int = 0, marker: str = '/tmp/gds_ml_pwned') -> None:
    """Writes one fixture of the given kind to out."""
    torch.manual_seed(seed)
    writers: dict[str, Callable[[], None]] = {
        'torch_save': lambda: _save_as_main(MainNet(), 'Net', lambda m: torch.save(m, out, pickle_protocol=2)),
        'pickle': lambda: _save_as_main(MainNet(), 'Net', lambda m: _write(out, pickle.dumps(m, protocol=2))),
        'torchscript': lambda: torch.jit.save(torch.jit.script(Net()), out),
        'corrupt': lambda: _write(out, _corrupt_bytes(seed)),
        'unresolvable': lambda: _save_as_main(MissingNet(), 'MissingNet',
                                              lambda m: torch.save(m, out, pickle_protocol=2)),
        'malicious': lambda: _write(out, pickle.dumps(Exploit(marker), protocol=2)),
        'malicious_torch_save': lambda: torch.save(Exploit(marker), out, pickle_protocol=2),
    }
    writers[kind]()


def _save_as_main(model: nn.Module, name: str, save: Callable[[nn.Module], None]) -> None:
    with pickled_as_main(type(model), name):
        save(model)


def _write(path: str, data: bytes) -> None:
    with open(path, 'wb') as file:
        file.write(data)


def _corrupt_bytes(seed: int) -> bytes:
    data = bytearray(random.Random(seed).randbytes(4096))
    data[0:4] = b'GDS!'  # neither a zip nor a pickle header, whatever the random draw
    return bytes(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m gds_ml.fixtures', description='Write a model fixture.')
    parser.add_argument('--kind', required=True, choices=KINDS)
    parser.add_argument('--out', required=True)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--marker', default='/tmp/gds_ml_pwned', help='file the malicious fixtures would create')
    args = parser.parse_args(argv)

    write_fixture(args.kind, args.out, args.seed, args.marker)
    return 0


if __name__ == '__main__':
    sys.exit(main())
