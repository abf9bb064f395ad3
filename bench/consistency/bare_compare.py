"""The bare baseline: torch.load each result and compare it with the first, tensor by tensor. Nothing else.

  /usr/bin/python3 bench/consistency/bare_compare.py RESULT...

Prints one JSON line: seconds, peakRssBytes, and per result its worst max |a - b| and relative L2 distance.
"""
import json
import sys
import time

import torch


def peak_rss() -> int:
    with open('/proc/self/status') as file:
        return next(int(line.split()[1]) * 1024 for line in file if line.startswith('VmHWM:'))


def main(paths: list[str]) -> None:
    started = time.perf_counter()
    reference = torch.load(paths[0], map_location='cpu', weights_only=True)
    distances = []
    for path in paths[1:]:
        other = torch.load(path, map_location='cpu', weights_only=True)
        worst_abs, worst_rel = 0.0, 0.0
        for key, value in reference.items():
            diff = other[key] - value
            worst_abs = max(worst_abs, diff.abs().max().item())
            worst_rel = max(worst_rel, (diff.norm() / value.norm()).item())
        distances.append({'maxAbsDiff': worst_abs, 'relativeL2': worst_rel})
        del other, diff
    seconds = time.perf_counter() - started
    print(json.dumps({'seconds': seconds, 'peakRssBytes': peak_rss(), 'distances': distances}))


if __name__ == '__main__':
    main(sys.argv[1:])
