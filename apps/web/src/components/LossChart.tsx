'use client';

// The loss curve of every Data Owner as one SVG line chart, drawn here rather than with a chart library. Lines also
// differ by dash pattern, so they stay apart without colour; a data table follows for screen readers. The drawing
// takes the width it is given (one SVG unit = one CSS pixel), so labels keep their size on a phone.
import { useEffect, useRef, useState } from 'react';

import { formatTick } from '@/lib/format';
import { type ChartSeries, layoutLossChart } from '@/lib/loss-chart';

const DASHES = ['', '8 4', '2 4', '12 4 2 4', '4 4'];
const MIN_WIDTH = 280;

function boxFor(width: number) {
  const w = Math.max(MIN_WIDTH, Math.round(width));

  return { width: w, height: w < 480 ? 220 : 280, left: 64, right: 12, top: 16, bottom: 44 };
}

/** The element's content width, following resizes. */
function useWidth<T extends HTMLElement>(initial: number) {
  const ref = useRef<T>(null);
  const [width, setWidth] = useState(initial);

  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    const observer = new ResizeObserver(([entry]) => setWidth(entry.contentRect.width));
    observer.observe(element);

    return () => observer.disconnect();
  }, []);

  return { ref, width };
}

export function LossChart({
  series,
  totalEpochs,
  title,
}: {
  series: ChartSeries[];
  totalEpochs: number;
  title: string;
}) {
  const { ref, width } = useWidth<HTMLElement>(640);
  const BOX = boxFor(width);
  const layout = layoutLossChart(series, totalEpochs, BOX);
  const hasPoints = series.some((s) => s.points.length > 0);
  const { plot } = layout;

  return (
    <figure className="chart" ref={ref}>
      <svg
        viewBox={`0 0 ${BOX.width} ${BOX.height}`}
        role="img"
        aria-labelledby="loss-chart-title"
        preserveAspectRatio="xMidYMid meet"
      >
        <title id="loss-chart-title">{title}</title>
        <g className="chart-grid">
          {layout.yTicks.map((tick) => (
            <g key={`y${tick.value}`}>
              <line x1={plot.x0} x2={plot.x1} y1={tick.y} y2={tick.y} />
              <text x={plot.x0 - 8} y={tick.y} textAnchor="end" dominantBaseline="middle">
                {formatTick(tick.value)}
              </text>
            </g>
          ))}
          {layout.xTicks.map((tick) => (
            <text key={`x${tick.value}`} x={tick.x} y={plot.y0 + 18} textAnchor="middle">
              {tick.value}
            </text>
          ))}
        </g>
        <line className="chart-axis" x1={plot.x0} x2={plot.x1} y1={plot.y0} y2={plot.y0} />
        <line className="chart-axis" x1={plot.x0} x2={plot.x0} y1={plot.y0} y2={plot.y1} />
        <text className="chart-label" x={(plot.x0 + plot.x1) / 2} y={BOX.height - 6} textAnchor="middle">
          epoch
        </text>
        <text
          className="chart-label"
          transform={`translate(12 ${(plot.y0 + plot.y1) / 2}) rotate(-90)`}
          textAnchor="middle"
        >
          loss
        </text>
        {layout.paths.map((path, i) => (
          <g key={path.id} className={`chart-series chart-series-${i % 5}`} data-series={path.label}>
            <path d={path.d} fill="none" strokeDasharray={DASHES[i % DASHES.length] || undefined} />
            {path.last && <circle cx={path.last.x} cy={path.last.y} r={3.5} />}
          </g>
        ))}
        {!hasPoints && (
          <text x={(plot.x0 + plot.x1) / 2} y={(plot.y0 + plot.y1) / 2} textAnchor="middle" className="chart-empty">
            Waiting for the first epoch…
          </text>
        )}
      </svg>
      <figcaption>
        <ul className="chart-legend">
          {layout.paths.map((path, i) => (
            <li key={path.id}>
              <svg width="28" height="10" aria-hidden="true" className={`chart-series chart-series-${i % 5}`}>
                <line x1="0" x2="28" y1="5" y2="5" strokeDasharray={DASHES[i % DASHES.length] || undefined} />
              </svg>
              {path.label}
            </li>
          ))}
        </ul>
        <span className="muted small">Lines lie on top of each other when Data Owners train identically.</span>
      </figcaption>
      <details className="chart-data">
        <summary>Loss values as a table</summary>
        <div className="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Data owner</th>
                <th scope="col">Epoch</th>
                <th scope="col">Loss</th>
              </tr>
            </thead>
            <tbody>
              {series.flatMap((s) =>
                s.points.map((p) => (
                  <tr key={`${s.id}-${p.epoch}`}>
                    <td>{s.label}</td>
                    <td>{p.epoch}</td>
                    <td>{p.loss.toPrecision(6)}</td>
                  </tr>
                )),
              )}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
