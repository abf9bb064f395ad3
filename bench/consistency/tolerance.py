"""Measures how far honest results of the same query can differ, and how far the faults we must catch are.

  PYTHONPATH=python /usr/bin/python3 bench/consistency/tolerance.py [--out bench/out]

Honest runs train the same model on the same data with the same seed through `python -m gds_ml.train`, varying only
what differs between honest Data Owners' machines: the number of torch threads (1 or 2) and the CPU kernels
(ATEN_CPU_CAPABILITY=default or avx2, as a Data Owner with an older CPU would get). Faulty runs return the initial
weights, random weights, one epoch less, or honest weights plus N(0, 1e-3) noise. For each pair the worst tensor's max
absolute difference and relative L2 distance (as the sidecar defines them) are reported; the defaults in
libs/proto/gooddata/sidecar/v1/consistency.proto come from this table.

Writes <out>/consistency-tolerance.json and .md.
"""
import argparse
import itertools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import torch
import torch.nn as nn

from gds_ml.consistency.fixtures import write_fault
from gds_ml.consistency.schemas import Tolerance
from gds_ml.demo_data import write_demo_data
from gds_ml.fixtures import write_fixture

HONEST_CONFIGS = [(1, 'default'), (2, 'default'), (1, 'avx2'), (2, 'avx2')]
SCENARIOS = {
    'seed Net (5->1), SGD, 3 epochs, 512 rows': ('net', {'epochs': 3, 'batchSize': 32, 'learningRate': 0.05,
                                                         'seed': 7}, 512),
    'MLP 5->512->512->1, SGD, 5 epochs, 4096 rows': ('mlp', {'epochs': 5, 'batchSize': 64, 'learningRate': 0.05,
                                                             'seed': 7}, 4096),
    'MLP 5->512->512->1, Adam, 10 epochs, 4096 rows': ('mlp', {'epochs': 10, 'batchSize': 64, 'optimizer': 'adam',
                                                               'learningRate': 0.001, 'seed': 7}, 4096),
}


class Mlp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(5, 512), nn.Linear(512, 512), nn.Linear(512, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x))))))


def _model(kind: str, path: str) -> None:
    if kind == 'net':
        write_fixture('torch_save', path, seed=3)
        return
    torch.manual_seed(3)
    torch.jit.save(torch.jit.script(Mlp()), path)


def _train(model: str, data: str, spec: dict[str, Any], out: str, threads: int, capability: str) -> None:
    env = {**os.environ, 'ATEN_CPU_CAPABILITY': capability}
    subprocess.run([sys.executable, '-m', 'gds_ml.train', '--query-id', 'tolerance', '--model', model, '--data', data,
                    '--features', 'x1,x2,x3,x4,x5', '--label', 'y', '--spec', json.dumps(spec), '--out', out,
                    '--allow-pickle', '--module-alias', '__main__=gds_ml.demo_models', '--threads', str(threads)],
                   check=True, env=env, capture_output=True)


def distance(left: str, right: str) -> dict[str, Any]:
    """The worst tensor by max |a - b|, and the worst by relative L2 (floor as in the sidecar, tolerance 1e-5)."""
    a = torch.load(left, weights_only=True)
    b = torch.load(right, weights_only=True)
    floor = Tolerance().max_abs_diff
    worst_abs, worst_rel = (0.0, ''), (0.0, '')
    for key in a:
        diff = (a[key].double() - b[key].double())
        max_abs = float(diff.abs().max())
        denominator = max(float(a[key].double().norm()), float(b[key].double().norm()), math.sqrt(diff.numel()) * floor)
        relative = float(diff.norm()) / denominator
        worst_abs = max(worst_abs, (max_abs, key))
        worst_rel = max(worst_rel, (relative, key))
    return {'maxAbsDiff': worst_abs[0], 'maxAbsTensor': worst_abs[1], 'relativeL2': worst_rel[0],
            'relativeL2Tensor': worst_rel[1]}


def measure(work: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name, (kind, spec, data_rows) in SCENARIOS.items():
        data = os.path.join(work, f'data-{data_rows}.csv')
        write_demo_data(data, rows=data_rows, seed=7)
        model = os.path.join(work, f'{kind}.model')
        _model(kind, model)

        honest = {}
        for threads, capability in HONEST_CONFIGS:
            out = os.path.join(work, f'{kind}-{spec["epochs"]}-{threads}-{capability}.pt')
            _train(model, data, spec, out, threads, capability)
            honest[f'{threads} thread(s), {capability}'] = out
        for (left_name, left), (right_name, right) in itertools.combinations(honest.items(), 2):
            rows.append({'scenario': name, 'kind': 'honest', 'pair': f'{left_name} vs {right_name}',
                         **distance(left, right)})

        reference = honest['1 thread(s), default']
        fewer = os.path.join(work, f'{kind}-fewer.pt')
        _train(model, data, {**spec, 'epochs': spec['epochs'] - 1}, fewer, 1, 'default')
        rows.append({'scenario': name, 'kind': 'fault', 'pair': 'one epoch less', **distance(reference, fewer)})
        for fault in ('noise', 'initial', 'random'):
            out = os.path.join(work, f'{kind}-{fault}.pt')
            write_fault(fault, reference, out, model=model if kind == 'net' else None, seed=11, scale=1e-3) \
                if fault != 'initial' or kind == 'net' else _initial_torchscript(model, out)
            label = {'noise': 'honest + N(0, 1e-3)', 'initial': 'initial weights', 'random': 'random weights'}[fault]
            rows.append({'scenario': name, 'kind': 'fault', 'pair': label, **distance(reference, out)})
    return rows


def _initial_torchscript(model: str, out: str) -> None:
    torch.save(torch.jit.load(model).state_dict(), out)


def markdown(rows: list[dict[str, Any]], started: str) -> str:
    honest = [row for row in rows if row['kind'] == 'honest']
    faults = [row for row in rows if row['kind'] == 'fault']
    worst_abs = max(row['maxAbsDiff'] for row in honest)
    worst_rel = max(row['relativeL2'] for row in honest)
    least_abs = min(row['maxAbsDiff'] for row in faults)
    least_rel = min(row['relativeL2'] for row in faults)
    tolerance = Tolerance()
    lines = [
        f'# Consistency tolerance: honest noise and faults ({started})', '',
        f'torch {torch.__version__}. Per pair, the worst tensor by max |a - b| and by relative L2 distance '
        '(||a - b|| / max(||a||, ||b||, sqrt(n) * 1e-5)).', '',
        '| scenario | kind | pair | max abs diff | tensor | relative L2 | tensor |', '|---|---|---|---|---|---|---|',
    ]
    for row in rows:
        lines.append(f'| {row["scenario"]} | {row["kind"]} | {row["pair"]} | {row["maxAbsDiff"]:.3g} | '
                     f'{row["maxAbsTensor"]} | {row["relativeL2"]:.3g} | {row["relativeL2Tensor"]} |')
    lines += [
        '', '## Defaults', '',
        f'- Honest runs differ by at most **{worst_abs:.3g}** (max abs) and **{worst_rel:.3g}** (relative L2).',
        f'- The faults differ by at least **{least_abs:.3g}** (max abs) and **{least_rel:.3g}** (relative L2).',
        f'- Defaults: max abs diff **{tolerance.max_abs_diff:g}** (the API\'s default tolerance; '
        f'{tolerance.max_abs_diff / max(worst_abs, 1e-30):.0f}x the honest worst, '
        f'{least_abs / tolerance.max_abs_diff:.0f}x below the nearest fault) and relative L2 '
        f'**{tolerance.relative_l2:g}** (10 x max abs).',
    ]
    return '\n'.join(lines) + '\n'


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '..', 'out'))
    args = parser.parse_args()

    started = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
    with tempfile.TemporaryDirectory(prefix='gds-tolerance-') as work:
        rows = measure(work)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'consistency-tolerance.json'), 'w') as file:
        json.dump({'startedAt': started, 'torch': torch.__version__, 'rows': rows}, file, indent=2)
    report = markdown(rows, started)
    with open(os.path.join(args.out, 'consistency-tolerance.md'), 'w') as file:
        file.write(report)
    print(report)
    return 0


if __name__ == '__main__':
    sys.exit(main())
