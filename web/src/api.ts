// The REST side of Twinspace as the client uses it: the Azure Digital Twins data
// plane under /worlds/{world}/, with a bearer token. Every failure becomes an
// ApiProblem carrying a sentence a person can act on, built from the server's
// RFC 9457 problem+json body when there is one.

/** Longest time a request may take before the client gives up on it. */
const REQUEST_TIMEOUT_MS = 15_000;

/** Most pages read for one listing: 10,000 twins at the default page size is 100. */
const PAGES_MAX = 2_000;

export type ProblemKind = 'auth' | 'forbidden' | 'missing' | 'network' | 'server' | 'request';

export class ApiProblem extends Error {
  constructor(
    readonly kind: ProblemKind,
    message: string,
    readonly status = 0,
    readonly code = '',
  ) {
    super(message);
  }
}

export interface WorldSummary {
  id: string;
  seq: number;
  models: number;
  twins: number;
  relationships: number;
}

export interface Placement {
  parent: string | null;
  position: [number, number, number];
  rotation: [number, number, number, number];
  scale: [number, number, number];
  asset: string | null;
}

/** A twin as the API returns it. */
export interface TwinJson {
  $dtId: string;
  $etag: string;
  $metadata: { $model: string; $lastUpdateTime?: string; [property: string]: unknown };
  $placement?: Placement;
  [property: string]: unknown;
}

export interface RelationshipJson {
  $relationshipId: string;
  $sourceId: string;
  $targetId: string;
  $relationshipName: string;
  [property: string]: unknown;
}

/** One bucket of a bucketed history read. */
export interface HistoryBucket {
  start: string;
  end: string;
  count: number;
  min: number | null;
  max: number | null;
  avg: number | null;
  last: unknown;
}

export interface HistoryJson {
  field: string;
  points?: Array<{ time: string; value: unknown }>;
  buckets?: HistoryBucket[];
  continuationToken?: string | null;
}

export interface ModelJson {
  id: string;
  displayName?: Record<string, string> | string;
  decommissioned?: boolean;
  model?: Record<string, unknown>;
}

export class Api {
  constructor(
    readonly token: string,
    readonly base = '',
  ) {}

  private async fetch(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<unknown> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    let response: Response;
    try {
      response = await fetch(url.startsWith('http') ? url : this.base + url, {
        method,
        headers: {
          Authorization: `Bearer ${this.token}`,
          Accept: 'application/json',
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? null : JSON.stringify(body),
        signal: controller.signal,
      });
    } catch (error) {
      const why = controller.signal.aborted ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : 'the connection failed';
      throw new ApiProblem('network', `Cannot reach the Twinspace server (${why}). It may be stopped or restarting.`);
    } finally {
      clearTimeout(timer);
    }
    if (response.status === 204) return null;
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    if (!response.ok) throw problemOf(response.status, parsed, url);
    return parsed;
  }

  async worlds(): Promise<WorldSummary[]> {
    const page = (await this.fetch('GET', '/worlds')) as { value: WorldSummary[] };
    return page.value;
  }

  /** Every row of a query, page after page (continuation tokens), with a bound. */
  async query<T>(world: string, query: string, onPage?: (rows: T[]) => void): Promise<T[]> {
    const rows: T[] = [];
    let continuationToken: string | null = null;
    for (let pages = 0; pages < PAGES_MAX; pages += 1) {
      const page = (await this.fetch('POST', `/worlds/${world}/query`, { query, continuationToken })) as {
        value: T[];
        continuationToken: string | null;
      };
      rows.push(...page.value);
      onPage?.(page.value);
      continuationToken = page.continuationToken;
      if (!continuationToken) return rows;
    }
    throw new ApiProblem('request', `The query returned more than ${PAGES_MAX} pages; the client stopped reading.`);
  }

  private async list<T>(url: string): Promise<T[]> {
    const items: T[] = [];
    let next: string | undefined = url;
    for (let pages = 0; next && pages < PAGES_MAX; pages += 1) {
      const page = (await this.fetch('GET', next)) as { value: T[]; nextLink?: string };
      items.push(...page.value);
      next = page.nextLink;
    }
    return items;
  }

  models(world: string): Promise<ModelJson[]> {
    return this.list<ModelJson>(`/worlds/${world}/models?includeModelDefinition=true`);
  }

  twin(world: string, id: string): Promise<TwinJson> {
    return this.fetch('GET', `/worlds/${world}/digitaltwins/${encodeURIComponent(id)}`) as Promise<TwinJson>;
  }

  patchTwin(world: string, id: string, patch: unknown[]): Promise<unknown> {
    return this.fetch('PATCH', `/worlds/${world}/digitaltwins/${encodeURIComponent(id)}`, patch);
  }

  /**
   * A property's recorded values between two instants: bucketed (count, min,
   * max, avg, last per bucket) when `buckets` is given, else the points.
   */
  async history(world: string, id: string, field: string, from: Date, to: Date, buckets?: number): Promise<HistoryJson> {
    const q = new URLSearchParams({ field, from: from.toISOString(), to: to.toISOString() });
    if (buckets) q.set('buckets', String(buckets));
    return (await this.fetch('GET', `/worlds/${world}/digitaltwins/${encodeURIComponent(id)}/history?${q}`)) as HistoryJson;
  }

  /** The fields of a twin that have recorded history. */
  async historyFields(world: string, id: string): Promise<string[]> {
    const body = (await this.fetch('GET', `/worlds/${world}/digitaltwins/${encodeURIComponent(id)}/history/fields`)) as unknown;
    // The list, or an object holding it (`fields` or `value`).
    const list = Array.isArray(body) ? body : ((body as { fields?: unknown; value?: unknown })?.fields ?? (body as { value?: unknown })?.value);
    return Array.isArray(list) ? list.map((f) => (typeof f === 'string' ? f : String((f as { field?: string; name?: string }).field ?? (f as { name?: string }).name ?? ''))).filter(Boolean) : [];
  }

  /** The world as it was at an instant: every twin, page after page (bounded). */
  async stateAt(world: string, at: Date): Promise<{ at: string; twins: TwinJson[] }> {
    const twins: TwinJson[] = [];
    let token: string | null = null;
    let when = at.toISOString();
    for (let pages = 0; pages < PAGES_MAX; pages += 1) {
      const q = new URLSearchParams({ at: at.toISOString() });
      if (token) q.set('continuationToken', token);
      const page = (await this.fetch('GET', `/worlds/${world}/history/state?${q}`)) as { at?: string; twins: TwinJson[]; continuationToken?: string | null };
      twins.push(...page.twins);
      if (page.at) when = page.at;
      token = page.continuationToken ?? null;
      if (!token) return { at: when, twins };
    }
    throw new ApiProblem('request', `The state at ${when} has more than ${PAGES_MAX} pages; the client stopped reading.`);
  }

  outgoing(world: string, id: string): Promise<RelationshipJson[]> {
    return this.list<RelationshipJson>(`/worlds/${world}/digitaltwins/${encodeURIComponent(id)}/relationships`);
  }

  incoming(world: string, id: string): Promise<RelationshipJson[]> {
    return this.list<RelationshipJson>(`/worlds/${world}/digitaltwins/${encodeURIComponent(id)}/incomingrelationships`);
  }
}

/** The sentence for a failed request, from the problem body when there is one. */
function problemOf(status: number, body: unknown, url: string): ApiProblem {
  const problem = (body ?? {}) as { detail?: string; title?: string; error?: { code?: string; message?: string } };
  const code = problem.error?.code ?? '';
  const detail = problem.error?.message ?? problem.detail ?? problem.title ?? '';
  if (status === 401) {
    return new ApiProblem(
      'auth',
      'The server does not accept this access token. It may be mistyped, revoked, or from another server. ' +
        'Paste a valid token (twinspace prints one at start, or run `twinspace token create`).',
      status,
      code,
    );
  }
  if (status === 403) {
    return new ApiProblem('forbidden', `This token may not do that: ${detail || 'access denied'}.`, status, code);
  }
  if (status === 404) {
    return new ApiProblem('missing', detail || `Nothing at ${url}.`, status, code);
  }
  if (status >= 500) {
    return new ApiProblem('server', `The server failed (${status}): ${detail || 'no details given'}.`, status, code);
  }
  return new ApiProblem('request', detail || `The request failed with status ${status}.`, status, code);
}
