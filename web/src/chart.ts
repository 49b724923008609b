// The Threat Timeline: a stacked bar chart (uPlot) of threats per bucket, one series per severity
// or group. Dragging across a range calls onZoom with the range in seconds since the epoch.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface TimelineInput {
  starts: number[]; // bucket starts, seconds since the epoch
  bucketSeconds: number;
  series: { label: string; color: string; counts: number[] }[];
}

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

/** Cumulative sums, so that bar k reaches from the top of bar k-1 to the top of bar k. */
export function stack(series: number[][]): number[][] {
  const out: number[][] = [];
  series.forEach((counts, k) => {
    out.push(counts.map((c, i) => c + (k > 0 ? out[k - 1][i] : 0)));
  });
  return out;
}

export class TimelineChart {
  private plot: uPlot | null = null;
  private input: TimelineInput | null = null;
  private readonly resize: ResizeObserver;

  constructor(
    private readonly el: HTMLElement,
    private readonly onZoom: (fromSec: number, toSec: number) => void,
  ) {
    this.resize = new ResizeObserver(() => {
      if (this.plot) this.plot.setSize(this.size());
    });
    this.resize.observe(el);
  }

  private size(): { width: number; height: number } {
    return { width: Math.max(200, this.el.clientWidth), height: this.el.clientWidth < 600 ? 160 : 200 };
  }

  update(input: TimelineInput): void {
    const sameShape =
      this.plot &&
      this.input &&
      this.input.series.map((s) => s.label).join('\u0000') === input.series.map((s) => s.label).join('\u0000');
    this.input = input;
    // Drawn from the top of the stack down, so each shorter bar paints over the taller one.
    const stacked = stack(input.series.map((s) => s.counts));
    const order = input.series.map((_, k) => input.series.length - 1 - k);
    const data: uPlot.AlignedData = [input.starts, ...order.map((k) => stacked[k])];
    if (sameShape && this.plot) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    const axis = cssVar('--fg-muted', '#666');
    const grid = cssVar('--border', '#ddd');
    const bars = uPlot.paths.bars!({ size: [0.85, 48], align: 1 });
    const raw = (k: number, i: number | null) =>
      i === null || i === undefined ? '' : String(input.series[k]?.counts[i] ?? 0);
    const opts: uPlot.Options = {
      ...this.size(),
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      select: { show: true, left: 0, top: 0, width: 0, height: 0 },
      legend: { show: true, live: true },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.05)] } },
      axes: [
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 44 },
      ],
      series: [
        { label: 'Time', value: (_u, v) => (v == null ? '' : new Date(v * 1000).toISOString().slice(0, 16).replace('T', ' ')) },
        ...order.map((k) => ({
          label: input.series[k].label,
          fill: input.series[k].color,
          stroke: input.series[k].color,
          width: 0,
          paths: bars,
          points: { show: false },
          value: (_u: uPlot, _v: number | null, _s: number, i: number | null) => raw(k, i),
        })),
      ],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 4) return;
            const a = u.posToVal(u.select.left, 'x');
            const b = u.posToVal(u.select.left + u.select.width, 'x');
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            this.onZoom(a, b);
          },
        ],
      },
    };
    this.plot = new uPlot(opts, data, this.el);
  }

  destroy(): void {
    this.resize.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }
}

export const SEVERITY_COLORS: Record<string, string> = {
  CRITICAL: '#b91c1c',
  HIGH: '#ea580c',
  MEDIUM: '#ca8a04',
  LOW: '#2563eb',
  INFO: '#64748b',
};

const GROUP_PALETTE = ['#2563eb', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#be185d', '#4d7c0f', '#a16207'];

export function seriesColor(split: string, name: string, index: number): string {
  if (split === 'severity') return SEVERITY_COLORS[name] ?? '#888';
  if (name === '') return '#94a3b8';
  return GROUP_PALETTE[index % GROUP_PALETTE.length];
}
