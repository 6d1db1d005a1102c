// What the client needs to know about DTDL models to show twins well: each
// interface's display name and, with inheritance (`extends`) flattened, its
// properties (schema, unit, enum values) and relationships. Read once per world
// from GET /models?includeModelDefinition=true.

import type { ModelJson } from './api';

/** Deepest `extends` chain followed; DTDL itself allows at most 10 levels. */
const EXTENDS_DEPTH_MAX = 12;

export interface PropertyInfo {
  name: string;
  displayName: string;
  /** "double", "long", "string", "boolean", "enum", "object", ... */
  schema: string;
  unit: string;
  enumValues: string[];
  telemetry: boolean;
}

export interface ModelInfo {
  id: string;
  displayName: string;
  properties: Map<string, PropertyInfo>;
  relationships: string[];
  components: string[];
}

/** Short symbols for the DTDL units the demo and common ontologies use. */
const UNIT_SYMBOLS: Record<string, string> = {
  degreeCelsius: '°C',
  degreeFahrenheit: '°F',
  kelvin: 'K',
  percent: '%',
  kilowatt: 'kW',
  watt: 'W',
  megawatt: 'MW',
  kilowattHour: 'kWh',
  metrePerSecond: 'm/s',
  kilometrePerHour: 'km/h',
  revolutionPerMinute: 'rpm',
  metre: 'm',
  millimetre: 'mm',
  second: 's',
  millisecond: 'ms',
  minute: 'min',
  hour: 'h',
  pascal: 'Pa',
  kilopascal: 'kPa',
  bar: 'bar',
  newton: 'N',
  litrePerSecond: 'L/s',
  cubicMetrePerHour: 'm³/h',
  volt: 'V',
  ampere: 'A',
  hertz: 'Hz',
  kilogram: 'kg',
  partsPerMillion: 'ppm',
  lux: 'lx',
};

export function unitSymbol(unit: string): string {
  return UNIT_SYMBOLS[unit] ?? unit;
}

function text(value: unknown, fallback: string): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const map = value as Record<string, string>;
    return map.en ?? Object.values(map)[0] ?? fallback;
  }
  return fallback;
}

function types(content: Record<string, unknown>): string[] {
  const t = content['@type'];
  return Array.isArray(t) ? (t as string[]) : typeof t === 'string' ? [t] : [];
}

function schemaOf(schema: unknown): { schema: string; enumValues: string[] } {
  if (typeof schema === 'string') return { schema, enumValues: [] };
  if (schema && typeof schema === 'object') {
    const s = schema as Record<string, unknown>;
    const kind = String(s['@type'] ?? 'object').toLowerCase();
    if (kind === 'enum' && Array.isArray(s.enumValues)) {
      return {
        schema: 'enum',
        enumValues: (s.enumValues as Array<Record<string, unknown>>).map((v) => String(v.enumValue ?? v.name)),
      };
    }
    return { schema: kind, enumValues: [] };
  }
  return { schema: 'unknown', enumValues: [] };
}

export class Models {
  private readonly raw = new Map<string, Record<string, unknown>>();
  private readonly flat = new Map<string, ModelInfo>();

  constructor(models: ModelJson[]) {
    for (const m of models) if (m.model) this.raw.set(m.id, m.model);
  }

  /** The interface with everything it inherits, or a bare entry for an unknown id. */
  get(id: string): ModelInfo {
    const cached = this.flat.get(id);
    if (cached) return cached;
    const info: ModelInfo = { id, displayName: shortName(id), properties: new Map(), relationships: [], components: [] };
    const seen = new Set<string>();
    const visit = (modelId: string, depth: number, own: boolean) => {
      const model = this.raw.get(modelId);
      if (!model || seen.has(modelId) || depth > EXTENDS_DEPTH_MAX) return;
      seen.add(modelId);
      if (own) info.displayName = text(model.displayName, shortName(modelId));
      const parents = model.extends;
      for (const parent of Array.isArray(parents) ? parents : parents ? [parents] : []) {
        if (typeof parent === 'string') visit(parent, depth + 1, false);
      }
      for (const content of (model.contents as Array<Record<string, unknown>> | undefined) ?? []) {
        const kinds = types(content);
        const name = String(content.name ?? '');
        if (kinds.includes('Property') || kinds.includes('Telemetry')) {
          const { schema, enumValues } = schemaOf(content.schema);
          info.properties.set(name, {
            name,
            displayName: text(content.displayName, name),
            schema,
            unit: typeof content.unit === 'string' ? content.unit : '',
            enumValues,
            telemetry: kinds.includes('Telemetry'),
          });
        } else if (kinds.includes('Relationship')) {
          if (!info.relationships.includes(name)) info.relationships.push(name);
        } else if (kinds.includes('Component')) {
          info.components.push(name);
        }
      }
    };
    visit(id, 0, true);
    this.flat.set(id, info);
    return info;
  }
}

/** `dtmi:twinspace:demo:RobotArm;1` → `RobotArm`. */
export function shortName(id: string): string {
  const last = id.split(':').pop() ?? id;
  return last.split(';')[0] ?? last;
}
