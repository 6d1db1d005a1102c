// Colouring twins by a property: numbers on a perceptual ramp between the
// smallest and largest value in view, enums and strings by category, and alarm
// states (fault, alarm, error) in red whatever else they are. The legend says
// which colour means what.

import { Color } from 'three';
import type { Models } from './models';
import { unitSymbol } from './models';
import type { TwinSet } from './twins';

/** Values treated as alarms: drawn red and listed first in the legend. */
export const ALARM_VALUES = new Set(['fault', 'alarm', 'error', 'failed', 'emergency']);

/** Fixed colours for the equipment states of the demo and of common models. */
const STATE_COLORS: Record<string, string> = {
  running: '#2fbf71',
  idle: '#7c8ea3',
  maintenance: '#f0a202',
  stopped: '#6b6f76',
  fault: '#e5383b',
  alarm: '#e5383b',
  error: '#e5383b',
};

const CATEGORY_COLORS = ['#4c78a8', '#f58518', '#54a24b', '#b279a2', '#eeca3b', '#9d755d', '#72b7b2', '#ff9da6'];

/** Ramp stops, cool to hot; even the ends are light enough to read on a grey floor. */
const RAMP = ['#2c7bb6', '#00a6ca', '#00ccbc', '#90eb9d', '#ffff8c', '#f9d057', '#f29e2e', '#e76818', '#d7191c'];

function ramp(t: number): Color {
  const x = Math.min(Math.max(t, 0), 1) * (RAMP.length - 1);
  const i = Math.min(Math.floor(x), RAMP.length - 2);
  return new Color(RAMP[i]).lerp(new Color(RAMP[i + 1]), x - i);
}

export interface LegendEntry {
  label: string;
  color: string;
  count: number;
  alarm: boolean;
}

export interface Coloring {
  property: string;
  /** Colour of a twin, null when it has no value for the property. */
  colorOf: (id: string) => Color | null;
  legend: { title: string; kind: 'numeric' | 'category'; min?: number; max?: number; unit?: string; entries: LegendEntry[]; gradient?: string };
  /** Twins whose value is an alarm state. */
  alarms: string[];
}

/** Every property some twin has a number, boolean or string for, by name, for the picker. */
export function colorableProperties(twins: TwinSet): string[] {
  const names = new Set<string>();
  for (const twin of twins.twins.values()) {
    for (const [name, value] of Object.entries(twin.properties)) {
      if (name === 'name') continue;
      if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string') names.add(name);
    }
  }
  return [...names].sort();
}

export function makeColoring(twins: TwinSet, models: Models, property: string): Coloring {
  const values = new Map<string, unknown>();
  for (const twin of twins.twins.values()) {
    const v = twin.properties[property];
    if (v !== undefined && v !== null) values.set(twin.id, v);
  }
  const numbers = [...values.values()].filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  let unit = '';
  for (const twin of twins.twins.values()) {
    const info = models.get(twin.model).properties.get(property);
    if (info?.unit) {
      unit = unitSymbol(info.unit);
      break;
    }
  }
  if (numbers.length > 0 && numbers.length === values.size) {
    const min = Math.min(...numbers);
    const max = Math.max(...numbers);
    const span = max - min;
    const colors = new Map<string, Color>();
    for (const [id, v] of values) colors.set(id, ramp(span > 0 ? ((v as number) - min) / span : 0.5));
    return {
      property,
      colorOf: (id) => colors.get(id) ?? null,
      legend: {
        title: property,
        kind: 'numeric',
        min,
        max,
        unit,
        entries: [],
        gradient: `linear-gradient(to right, ${RAMP.join(', ')})`,
      },
      alarms: [],
    };
  }
  // Categories, alarms first, then by how many twins have them.
  const counts = new Map<string, number>();
  for (const v of values.values()) counts.set(String(v), (counts.get(String(v)) ?? 0) + 1);
  const order = [...counts.keys()].sort((a, b) => {
    const alarm = Number(ALARM_VALUES.has(b)) - Number(ALARM_VALUES.has(a));
    return alarm || (counts.get(b) ?? 0) - (counts.get(a) ?? 0) || a.localeCompare(b);
  });
  const palette = new Map<string, string>();
  let next = 0;
  for (const label of order) {
    const fixed = STATE_COLORS[label.toLowerCase()];
    palette.set(label, fixed ?? CATEGORY_COLORS[next++ % CATEGORY_COLORS.length] ?? '#888888');
  }
  const colors = new Map<string, Color>();
  const alarms: string[] = [];
  for (const [id, v] of values) {
    colors.set(id, new Color(palette.get(String(v))));
    if (ALARM_VALUES.has(String(v).toLowerCase())) alarms.push(id);
  }
  return {
    property,
    colorOf: (id) => colors.get(id) ?? null,
    legend: {
      title: property,
      kind: 'category',
      entries: order.map((label) => ({
        label,
        color: palette.get(label) ?? '#888888',
        count: counts.get(label) ?? 0,
        alarm: ALARM_VALUES.has(label.toLowerCase()),
      })),
    },
    alarms,
  };
}
