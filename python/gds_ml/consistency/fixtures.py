"""Results a faulty or dishonest Data Owner could return, and large models for the benches. Test support.

  python -m gds_ml.consistency.fixtures fault --kind KIND --honest RESULT --out PATH [--model MODEL] [--seed N]
      [--scale 1e-3] [--marker PATH]
  python -m gds_ml.consistency.fixtures big-model --out PATH --mib N [--seed N]
  python -m gds_ml.consistency.fixtures big-result --model PATH --out PATH [--seed N] [--noise 1e-8]

Fault kinds: initial (the model's own weights, needs --model), random, noise (honest + N(0, scale)), wrong_shape,
wrong_dtype, nan, missing_key, extra_key, malicious (a pickle that would create --marker on load), corrupt (a zip
header and garbage), not_state_dict (a list of tensors).
"""
import argparse
import os
import random
import sys
from collections import OrderedDict
from typing import Callable, Optional

import torch
import torch.nn as nn

from gds_ml.fixtures import Exploit, pickled_as_main
from gds_ml.loading import load_model

FAULTS = ('initial', 'random', 'noise', 'wrong_shape', 'wrong_dtype', 'nan', 'missing_key', 'extra_key', 'malicious',
          'corrupt', 'not_state_dict')
_ALIASES = {'__main__': 'gds_ml.demo_models'}
_MAX_TENSOR_ELEMENTS = 16 * 1024 * 1024  # 64 MiB of float32 per tensor in the large fixtures


def write_fault(kind: str, honest: str, out: str, model: Optional[str] = None, seed: int = 0, scale: float = 1e-3,
                marker: str = '/tmp/gds_ml_pwned') -> None:
    """Writes a faulty result derived from an honest one (or from the model for 'initial')."""
    if kind == 'malicious':
        _save(Exploit(marker), out)
        return
    if kind == 'corrupt':
        _write(out, b'PK\x03\x04' + random.Random(seed).randbytes(4092))
        return
    if kind == 'initial':
        _save(_initial_weights(model), out)
        return

    generator = torch.Generator().manual_seed(seed)
    weights: 'OrderedDict[str, torch.Tensor]' = torch.load(honest, map_location='cpu', weights_only=True)
    _save(_FAULTS[kind](weights, generator, scale), out)


def _initial_weights(model: Optional[str]) -> object:
    if not model:
        raise SystemExit('--model is required for the initial fault')
    return load_model(model, allow_pickle=True, module_aliases=_ALIASES).module.state_dict()


def _random(weights: 'OrderedDict[str, torch.Tensor]', generator: torch.Generator, scale: float) -> object:
    return OrderedDict((key, torch.randn(value.shape, generator=generator, dtype=value.dtype))
                       for key, value in weights.items())


def _noise(weights: 'OrderedDict[str, torch.Tensor]', generator: torch.Generator, scale: float) -> object:
    return OrderedDict((key, value + scale * torch.randn(value.shape, generator=generator, dtype=value.dtype))
                       for key, value in weights.items())


def _first_changed(change: Callable[[torch.Tensor], torch.Tensor]) -> Callable[..., object]:
    def fault(weights: 'OrderedDict[str, torch.Tensor]', generator: torch.Generator, scale: float) -> object:
        first = next(iter(weights))
        return OrderedDict((key, change(value) if key == first else value) for key, value in weights.items())

    return fault


def _with_nan(value: torch.Tensor) -> torch.Tensor:
    changed = value.clone()
    changed.view(-1)[changed.numel() // 2] = float('nan')
    return changed


def _missing_key(weights: 'OrderedDict[str, torch.Tensor]', generator: torch.Generator, scale: float) -> object:
    return OrderedDict(list(weights.items())[:-1])


def _extra_key(weights: 'OrderedDict[str, torch.Tensor]', generator: torch.Generator, scale: float) -> object:
    return OrderedDict([*weights.items(), ('backdoor.weight', torch.zeros(4))])


_FAULTS: dict[str, Callable[..., object]] = {
    'random': _random,
    'noise': _noise,
    'wrong_shape': _first_changed(lambda value: torch.cat([value.reshape(-1), value.reshape(-1)[:1]])),
    'wrong_dtype': _first_changed(lambda value: value.double()),
    'nan': _first_changed(_with_nan),
    'missing_key': _missing_key,
    'extra_key': _extra_key,
    'not_state_dict': lambda weights, generator, scale: list(weights.values()),
}


class BigNet(nn.Module):
    """A model of a chosen size: square bias-free layers of at most 64 MiB each."""

    def __init__(self, mib: int) -> None:
        super().__init__()
        total = mib * 1024 * 1024 // 4
        side = int(min(total, _MAX_TENSOR_ELEMENTS) ** 0.5)
        count = max(1, round(total / (side * side)))
        self.layers = nn.ModuleList(nn.Linear(side, side, bias=False) for _ in range(count))
        self.head = nn.Linear(side, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = torch.relu(layer(x))
        return self.head(x)


def write_big_model(out: str, mib: int, seed: int = 0) -> None:
    """torch.save(model) of a BigNet, pickled as `__main__.BigNet` as a customer's notebook would."""
    torch.manual_seed(seed)
    with torch.no_grad():
        model = BigNet(mib)
    with pickled_as_main(BigNet, 'BigNet'):
        _save(model, out)


def write_big_result(model: str, out: str, seed: int = 0, noise: float = 1e-8) -> None:
    """An honest-looking result for a big model: its own weights plus noise far below any tolerance."""
    loaded = load_model(model, allow_pickle=True, module_aliases={'__main__': 'gds_ml.consistency.fixtures'}).module
    generator = torch.Generator().manual_seed(seed)
    state = OrderedDict()
    with torch.no_grad():
        for key, value in loaded.state_dict().items():
            state[key] = value.add_(torch.randn(value.shape, generator=generator), alpha=noise) if noise else value
    _save(state, out)


def _save(value: object, out: str) -> None:
    """Through a file object, as the trainer saves: the archive's folder name does not depend on the path."""
    temp = out + '.tmp'
    with open(temp, 'wb') as file:
        torch.save(value, file)
    os.replace(temp, out)


def _write(out: str, data: bytes) -> None:
    with open(out, 'wb') as file:
        file.write(data)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m gds_ml.consistency.fixtures')
    commands = parser.add_subparsers(dest='command', required=True)

    fault = commands.add_parser('fault')
    fault.add_argument('--kind', required=True, choices=FAULTS)
    fault.add_argument('--honest', default='')
    fault.add_argument('--model', default='')
    fault.add_argument('--out', required=True)
    fault.add_argument('--seed', type=int, default=0)
    fault.add_argument('--scale', type=float, default=1e-3)
    fault.add_argument('--marker', default='/tmp/gds_ml_pwned')

    big_model = commands.add_parser('big-model')
    big_model.add_argument('--out', required=True)
    big_model.add_argument('--mib', type=int, required=True)
    big_model.add_argument('--seed', type=int, default=0)

    big_result = commands.add_parser('big-result')
    big_result.add_argument('--model', required=True)
    big_result.add_argument('--out', required=True)
    big_result.add_argument('--seed', type=int, default=0)
    big_result.add_argument('--noise', type=float, default=1e-8)

    args = parser.parse_args(argv)
    if args.command == 'fault':
        write_fault(args.kind, args.honest, args.out, args.model, args.seed, args.scale, args.marker)
    elif args.command == 'big-model':
        write_big_model(args.out, args.mib, args.seed)
    else:
        write_big_result(args.model, args.out, args.seed, args.noise)
    return 0


if __name__ == '__main__':
    sys.exit(main())
