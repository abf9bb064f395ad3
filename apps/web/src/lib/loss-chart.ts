// The geometry of the loss chart: scales, "nice" ticks and one SVG path per Data Owner. Pure functions, so the
// drawing component stays small and this part is unit-tested.

export interface ChartSeries {
  id: string;
  label: string;
  points: Array<{ epoch: number; loss: number }>;
}

export interface ChartBox {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export interface ChartLayout {
  paths: Array<{ id: string; label: string; d: string; last?: { x: number; y: number } }>;
  xTicks: Array<{ value: number; x: number }>;
  yTicks: Array<{ value: number; y: number }>;
  plot: { x0: number; x1: number; y0: number; y1: number };
}

/** About `count` round tick values covering [min, max] (1, 2 or 5 times a power of ten apart). */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];

  const raw = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks: number[] = [];
  for (let value = Math.ceil(min / step) * step; value <= max + step * 1e-9; value += step) {
    ticks.push(Number(value.toPrecision(12)));
  }

  return ticks;
}

/** Lays out every series in the box: x over the epochs (see maxEpoch), y over the losses seen. */
export function layoutLossChart(series: ChartSeries[], totalEpochs: number, box: ChartBox): ChartLayout {
  const plot = { x0: box.left, x1: box.width - box.right, y0: box.height - box.bottom, y1: box.top };
  const finite = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.loss));
  // The x axis grows with the epochs seen (at least 10, or all of a shorter run): 3 points of a 10 000-epoch run
  // would otherwise sit in one pixel column.
  const maxEpoch = Math.max(Math.min(totalEpochs, 10), 1, ...finite.map((p) => p.epoch));

  let low = Math.min(...finite.map((p) => p.loss));
  let high = Math.max(...finite.map((p) => p.loss));
  if (finite.length === 0) [low, high] = [0, 1];
  if (low === high) [low, high] = [low - Math.abs(low || 1) * 0.1, high + Math.abs(high || 1) * 0.1];
  const pad = (high - low) * 0.05;
  // Losses are usually >= 0: do not let the padding invent negative values on the axis.
  low = low >= 0 ? Math.max(0, low - pad) : low - pad;
  high += pad;

  const x = (epoch: number) =>
    maxEpoch === 1 ? (plot.x0 + plot.x1) / 2 : plot.x0 + ((epoch - 1) / (maxEpoch - 1)) * (plot.x1 - plot.x0);
  const y = (loss: number) => plot.y0 - ((loss - low) / (high - low)) * (plot.y0 - plot.y1);
  const round = (n: number) => Math.round(n * 10) / 10;

  const paths = series.map((s) => {
    const points = s.points.filter((p) => Number.isFinite(p.loss)).sort((a, b) => a.epoch - b.epoch);
    const d = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${round(x(p.epoch))},${round(y(p.loss))}`).join(' ');
    const tail = points.at(-1);

    return { id: s.id, label: s.label, d, last: tail && { x: round(x(tail.epoch)), y: round(y(tail.loss)) } };
  });

  const xTicks = niceTicks(1, maxEpoch, Math.min(maxEpoch - 1, 6))
    .filter((value) => Number.isInteger(value) && value >= 1)
    .map((value) => ({ value, x: round(x(value)) }));
  const yTicks = niceTicks(low, high, 4)
    .filter((value) => value >= low && value <= high)
    .map((value) => ({ value, y: round(y(value)) }));

  return { paths, xTicks, yTicks, plot };
}
