import { describe, expect, it } from '@jest/globals';

import { layoutLossChart, niceTicks } from './loss-chart.js';

const BOX = { width: 200, height: 100, left: 20, right: 0, top: 0, bottom: 20 };

describe('niceTicks', () => {
  it('should step by 1, 2 or 5 times a power of ten', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(1, 10, 5)).toEqual([2, 4, 6, 8, 10]);
    expect(niceTicks(0.2134, 0.2561, 4)).toEqual([0.22, 0.24]);
  });

  it('should give one tick for an empty range and none for non-finite bounds', () => {
    expect(niceTicks(3, 3)).toEqual([3]);
    expect(niceTicks(Infinity, 1)).toEqual([]);
  });
});

describe('layoutLossChart', () => {
  it('should map epoch 1 to the left edge, the last epoch to the right, and a higher loss higher up', () => {
    const layout = layoutLossChart(
      [
        {
          id: 'a',
          label: 'do-a',
          points: [
            { epoch: 1, loss: 1 },
            { epoch: 5, loss: 0.5 },
          ],
        },
      ],
      5,
      BOX,
    );

    const [start, end] = layout.paths[0].d.split(' ');
    expect(start).toMatch(/^M20,/);
    expect(end).toMatch(/^L200,/);
    expect(Number(start.split(',')[1])).toBeLessThan(Number(end.split(',')[1]));
    expect(layout.paths[0].last).toEqual({ x: 200, y: Number(end.split(',')[1]) });
  });

  it('should keep series that have no points yet, as empty paths, and skip non-finite losses', () => {
    const layout = layoutLossChart(
      [
        { id: 'a', label: 'do-a', points: [] },
        {
          id: 'b',
          label: 'do-b',
          points: [
            { epoch: 1, loss: Number.NaN },
            { epoch: 2, loss: 0.3 },
          ],
        },
      ],
      3,
      BOX,
    );

    expect(layout.paths.map((p) => p.d.split(' ').length)).toEqual([1, 1]);
    expect(layout.paths[0].d).toBe('');
    expect(layout.xTicks.map((t) => t.value)).toEqual([1, 2, 3]);
  });

  it('should scale the x axis to the epochs seen, not to all of a long run', () => {
    const layout = layoutLossChart(
      [
        {
          id: 'a',
          label: 'a',
          points: [
            { epoch: 1, loss: 1 },
            { epoch: 30, loss: 0.5 },
          ],
        },
      ],
      10_000,
      BOX,
    );

    expect(Math.max(...layout.xTicks.map((t) => t.value))).toBe(30);
  });

  it('should not invent negative losses on the axis', () => {
    const layout = layoutLossChart(
      [
        {
          id: 'a',
          label: 'a',
          points: [
            { epoch: 1, loss: 0.01 },
            { epoch: 2, loss: 0.5 },
          ],
        },
      ],
      2,
      BOX,
    );

    expect(Math.min(...layout.yTicks.map((t) => t.value))).toBeGreaterThanOrEqual(0);
  });
});
