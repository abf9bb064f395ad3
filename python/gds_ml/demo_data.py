"""Writes the demo dataset: columns x1..x5 and a 0/1 label y from a fixed linear rule plus small noise.

  python -m gds_ml.demo_data --out PATH [--rows 512] [--seed 7]
"""
import argparse
import csv
import random
import sys
from typing import Optional

FEATURES = ('x1', 'x2', 'x3', 'x4', 'x5')
WEIGHTS = (0.8, -0.5, 0.3, -0.2, 0.6)
BIAS = 0.1
NOISE = 0.05


def write_demo_data(out: str, rows: int = 512, seed: int = 7) -> None:
    """Same arguments, same bytes: Python's random.Random is stable across platforms and versions."""
    draw = random.Random(seed)
    with open(out, 'w', newline='') as file:
        writer = csv.writer(file, lineterminator='\n')
        writer.writerow([*FEATURES, 'y'])
        for _ in range(rows):
            xs = [draw.uniform(-1.0, 1.0) for _ in FEATURES]
            score = sum(w * x for w, x in zip(WEIGHTS, xs)) + BIAS + draw.gauss(0.0, NOISE)
            writer.writerow([f'{x:.6f}' for x in xs] + [1 if score > 0 else 0])


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m gds_ml.demo_data', description='Write the demo CSV dataset.')
    parser.add_argument('--out', required=True)
    parser.add_argument('--rows', type=int, default=512)
    parser.add_argument('--seed', type=int, default=7)
    args = parser.parse_args(argv)

    write_demo_data(args.out, args.rows, args.seed)
    return 0


if __name__ == '__main__':
    sys.exit(main())
