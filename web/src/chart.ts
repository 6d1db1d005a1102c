// The selection panel's history chart: one property of the selected twin over
// a chosen range (last 5 min, 1 h, 24 h, or a custom from/to), read from the
// server's history as buckets (min, max, average per bucket) and drawn with
// uPlot: the average as a line inside the min-max band, the unit on the axis.
// While a "last …" range is shown, the chart re-reads every few seconds so it
// follows the live value.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { ApiProblem, type Api, type HistoryJson } from './api';
import { h } from './dom';

/** Buckets asked for: about one per two pixels of the chart's width. */
const BUCKETS = 120;
/** How often a "last …" range is re-read. */
const REFRESH_MS = 5_000;

export const RANGES: Array<{ key: string; label: string; ms: number }> = [
  { key: '5m', label: '5 min', ms: 5 * 60_000 },
  { key: '1h', label: '1 h', ms: 3_600_000 },
  { key: '24h', label: '24 h', ms: 86_400_000 },
];

export interface ChartTarget {
  world: string;
  twinId: string;
  field: string;
  unit: string;
  /** The property's display name. */
  label: string;
}

/** Turns a history answer into uPlot's columns: times (s), average, min, max. */
export function columnsOf(body: HistoryJson): [number[], Array<number | null>, Array<number | null>, Array<number | null>] {
  const times: number[] = [];
  const avg: Array<number | null> = [];
  const min: Array<number | null> = [];
  const max: Array<number | null> = [];
  if (body.buckets) {
    for (const b of body.buckets) {
      const start = Date.parse(b.start);
      const end = Date.parse(b.end);
      if (Number.isNaN(start)) continue;
      times.push((Number.isNaN(end) ? start : (start + end) / 2) / 1000);
      const empty = !b.count;
      avg.push(empty || typeof b.avg !== 'number' ? null : b.avg);
      min.push(empty || typeof b.min !== 'number' ? null : b.min);
      max.push(empty || typeof b.max !== 'number' ? null : b.max);
    }
  } else {
    for (const p of body.points ?? []) {
      const t = Date.parse(p.time);
      const v = typeof p.value === 'number' ? p.value : typeof p.value === 'boolean' ? Number(p.value) : null;
      if (Number.isNaN(t)) continue;
      times.push(t / 1000);
      avg.push(v);
      min.push(v);
      max.push(v);
    }
  }
  return [times, avg, min, max];
}

export class HistoryChart {
  readonly element: HTMLElement;
  private readonly plotBox: HTMLElement;
  private readonly note: HTMLElement;
  private readonly fromInput: HTMLInputElement;
  private readonly toInput: HTMLInputElement;
  private plot: uPlot | null = null;
  private target: ChartTarget | null = null;
  private range = '5m';
  private timer = 0;
  private generation = 0;
  /** What the last read found, for the tests: buckets with values, and the last average. */
  readonly last = { buckets: 0, filled: 0, lastAvg: null as number | null, field: '', error: '' };

  constructor(private readonly api: Api) {
    this.plotBox = h('div', { class: 'plot', id: 'history-plot' });
    this.note = h('div', { class: 'chart-note', id: 'history-note' });
    this.fromInput = h('input', { type: 'datetime-local', 'aria-label': 'From', id: 'history-from' });
    this.toInput = h('input', { type: 'datetime-local', 'aria-label': 'To', id: 'history-to' });
    const custom = h('div', { class: 'custom', hidden: true }, this.fromInput, '→', this.toInput, h('button', { type: 'button', onclick: () => void this.load() }, 'Show'));
    const buttons = [...RANGES.map((r) => ({ key: r.key, label: r.label })), { key: 'custom', label: 'Custom' }].map((r) =>
      h(
        'button',
        {
          type: 'button',
          'data-range': r.key,
          class: r.key === this.range ? 'on' : undefined,
          onclick: (e: Event) => {
            this.range = r.key;
            for (const b of (e.currentTarget as HTMLElement).parentElement?.children ?? []) b.classList.toggle('on', (b as HTMLElement).dataset.range === r.key);
            custom.hidden = r.key !== 'custom';
            if (r.key === 'custom' && !this.fromInput.value) {
              const now = Date.now();
              this.fromInput.value = localInput(new Date(now - 3_600_000));
              this.toInput.value = localInput(new Date(now));
            }
            void this.load();
          },
        },
        r.label,
      ),
    );
    this.element = h('div', { class: 'history', id: 'history' }, h('div', { class: 'ranges' }, ...buttons), custom, this.plotBox, this.note);
  }

  /** Shows a property of a twin (null hides the chart and stops reading). */
  show(target: ChartTarget | null): void {
    const same = target && this.target && target.twinId === this.target.twinId && target.field === this.target.field && target.world === this.target.world;
    this.target = target;
    window.clearInterval(this.timer);
    this.timer = 0;
    if (!target) {
      this.destroyPlot();
      return;
    }
    if (!same) this.destroyPlot();
    void this.load();
    this.timer = window.setInterval(() => {
      if (this.range !== 'custom' && this.element.isConnected) void this.load();
    }, REFRESH_MS);
  }

  private window(): [Date, Date] | null {
    if (this.range === 'custom') {
      const from = new Date(this.fromInput.value);
      const to = new Date(this.toInput.value);
      if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from >= to) return null;
      return [from, to];
    }
    const span = RANGES.find((r) => r.key === this.range)?.ms ?? 300_000;
    const to = new Date();
    return [new Date(to.getTime() - span), to];
  }

  async load(): Promise<void> {
    const target = this.target;
    if (!target) return;
    const span = this.window();
    if (!span) {
      this.note.textContent = 'Pick a start before the end.';
      return;
    }
    const generation = ++this.generation;
    let body: HistoryJson;
    try {
      body = await this.api.history(target.world, target.twinId, target.field, span[0], span[1], BUCKETS);
    } catch (error) {
      if (generation !== this.generation) return;
      const problem = error instanceof ApiProblem ? error : null;
      this.last.error = problem?.code || String(error);
      this.destroyPlot();
      this.note.textContent =
        problem?.code === 'RouteNotFound'
          ? 'This server keeps no history (it has no history API yet).'
          : problem?.kind === 'missing'
            ? `No history is recorded for ${target.label}.`
            : `History could not be read: ${problem?.message ?? String(error)}`;
      return;
    }
    if (generation !== this.generation || target !== this.target) return;
    const data = columnsOf(body);
    const filled = data[1].filter((v) => v !== null).length;
    Object.assign(this.last, { buckets: data[0].length, filled, field: target.field, error: '', lastAvg: [...data[1]].reverse().find((v) => v !== null) ?? null });
    this.note.textContent = filled === 0 ? `No values of ${target.label} were recorded in this range.` : `${filled} of ${data[0].length} intervals hold values · line: average, band: min–max`;
    this.draw(target, data, span);
  }

  private draw(target: ChartTarget, data: ReturnType<typeof columnsOf>, span: [Date, Date]): void {
    const width = Math.max(this.plotBox.clientWidth || 300, 200);
    const scales: uPlot.Scales = { x: { time: true, range: () => [span[0].getTime() / 1000, span[1].getTime() / 1000] } };
    if (this.plot) {
      this.plot.setData(data as uPlot.AlignedData, false);
      this.plot.setScale('x', { min: span[0].getTime() / 1000, max: span[1].getTime() / 1000 });
      return;
    }
    const axis = { stroke: '#93a4b5', grid: { stroke: 'rgba(255,255,255,0.07)' }, ticks: { stroke: 'rgba(255,255,255,0.12)' } };
    const opts: uPlot.Options = {
      width,
      height: 150,
      legend: { show: false },
      cursor: { y: false },
      scales,
      series: [
        {},
        { label: `${target.label} (avg)`, stroke: '#34d1e6', width: 2, spanGaps: false, value: (_u, v) => (v === null ? '—' : `${v.toFixed(2)} ${target.unit}`) },
        { label: 'min', stroke: 'rgba(52,209,230,0.35)', width: 1 },
        { label: 'max', stroke: 'rgba(52,209,230,0.35)', width: 1 },
      ],
      bands: [{ series: [3, 2], fill: 'rgba(52,209,230,0.16)' }],
      axes: [
        { ...axis, space: 60 },
        { ...axis, size: 52, label: target.unit || undefined, labelSize: 14, labelFont: '11px system-ui', values: (_u, ticks) => ticks.map((t) => compact(t)) },
      ],
    };
    this.plot = new uPlot(opts, data as uPlot.AlignedData, this.plotBox);
  }

  private destroyPlot(): void {
    this.plot?.destroy();
    this.plot = null;
    this.plotBox.replaceChildren();
    this.note.textContent = '';
  }
}

function compact(v: number): string {
  const a = Math.abs(v);
  if (a >= 10_000) return `${(v / 1000).toFixed(0)}k`;
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return v.toFixed(1).replace(/\.0$/, '');
  return v.toPrecision(2);
}

/** A date as a datetime-local input's value (local time, minutes). */
export function localInput(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
