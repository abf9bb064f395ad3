"""The sidecar's check engine on files already on disk, as the sidecar runs it once the bytes have arrived.

  PYTHONPATH=python /usr/bin/python3 bench/consistency/engine_check.py --model MODEL [--quorum N] RESULT...

Prints one JSON line: seconds (model structure to verdict), verdict, loads, comparisons, peakRssBytes.
"""
import argparse
import json
import time

from gds_ml.consistency.engine import check_files
from gds_ml.consistency.schemas import Tolerance


def peak_rss() -> int:
    with open('/proc/self/status') as file:
        return next(int(line.split()[1]) * 1024 for line in file if line.startswith('VmHWM:'))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--model', required=True)
    parser.add_argument('--quorum', type=int, default=0)
    parser.add_argument('--tolerance', type=float, default=1e-5)
    parser.add_argument('results', nargs='+')
    args = parser.parse_args()

    started = time.perf_counter()
    outcome = check_files(args.model, [(f'r{index}', path) for index, path in enumerate(args.results)],
                          Tolerance.resolve(args.tolerance), args.quorum or len(args.results) // 2 + 1)
    seconds = time.perf_counter() - started
    print(json.dumps({'seconds': seconds, 'verdict': outcome.verdict.value, 'largestGroup': outcome.largest_group,
                      'loads': outcome.stats.loads, 'comparisons': outcome.stats.comparisons,
                      'peakRssBytes': peak_rss(),
                      'maxAbsDiff': max(result.max_abs_diff for result in outcome.results)}))


if __name__ == '__main__':
    main()
