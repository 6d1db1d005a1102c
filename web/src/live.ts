// The live side: a WebSocket at /worlds/{world}/live speaking the protobuf
// protocol of crates/proto (twinspace.live.v1, TypeScript generated at build time
// by buf + protoc-gen-es). It says hello with the token, subscribes to the world,
// and turns each tick's twin events into upserts and removals of the client's
// twins. When the connection drops it reconnects by itself with growing waits,
// resuming after the last `seq` it applied; when the server has no live endpoint
// it says so once, and the client keeps polling the REST API instead.

import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  AnnotationEvent_Kind,
  ClientMessageSchema,
  PresenceEvent_Kind,
  Replay_Action,
  ServerMessageSchema,
  TwinEventKind,
  type Annotation,
  type ChatMessage,
  type Field,
  type PresenceEvent,
  type ReplayPosition,
  type Reply,
  type Region,
  type ServerMessage,
  type TwinEvent,
  type Value,
} from './gen/twinspace/live/v1/live_pb';
import type { Placement } from './api';
import type { AnnotationEvent } from './gen/twinspace/live/v1/live_pb';
import { Quaternion, Vector3 } from 'three';
import type { Pose as TwinPose, Twin } from './twins';

export const PROTOCOL_VERSION = 1;

/** The subscription id this client uses (it holds one: the world around the camera). */
const SUBSCRIPTION = 1;
/** Longest wait between reconnection attempts. */
const RETRY_MS_MAX = 10_000;
/** Fewest milliseconds between two region updates sent while the camera moves. */
const REGION_UPDATE_MS = 250;
/** Largest frame this client accepts; the server's snapshots arrive in ticks well below it. */
const FRAME_BYTES_MAX = 64 * 1024 * 1024;

/** The subscription id of a replay (never one of the live view's). */
export const REPLAY_SUBSCRIPTION = 2;
/** Longest wait for a command's reply before it counts as lost. */
const REPLY_TIMEOUT_MS = 10_000;
/** Fewest milliseconds between two presence messages (the server accepts up to 30 a second). */
export const PRESENCE_MS_MIN = 34;

export { AnnotationEvent_Kind, PresenceEvent_Kind, Replay_Action };
export type { Annotation, ChatMessage, PresenceEvent, ReplayPosition };

/** A pose in Twinspace's z-up world coordinates, as presence carries it. */
export interface PresencePose {
  position: [number, number, number];
  rotation: [number, number, number, number];
}

/** What a presence message may set; absent fields keep their previous value. */
export interface PresenceUpdate {
  head?: PresencePose;
  leftHand?: PresencePose;
  rightHand?: PresencePose;
  pointer?: { origin: [number, number, number]; direction: [number, number, number] };
  /** A twin id, or null to clear the selection. */
  selected?: string | null;
}

export type LiveStatus = 'live' | 'unavailable' | 'auth' | 'reconnecting' | 'missing';

export interface LiveEvents {
  onStatus: (status: LiveStatus, message?: string) => void;
  onReset: () => void;
  onEnter: (twin: Twin) => void;
  /** `change` makes the updated twin from the one held. */
  onUpdate: (id: string, change: (twin: Twin) => Twin) => void;
  /**
   * The hot path: an UPDATE of property values only (no placement), applied to
   * the held twin in place. A value of `undefined` removes the property.
   */
  onValues: (id: string, values: Array<[string, unknown]>, at: string) => void;
  onLeave: (id: string) => void;
  /** After every tick's events are applied (redraw once per tick). */
  onSynced: () => void;
  /** The others: joins, moves and leaves (in the tick's order). */
  onPresence?: (events: PresenceEvent[]) => void;
  onChat?: (messages: ChatMessage[]) => void;
  onAnnotations?: (events: AnnotationEvent[]) => void;
  /** A replay tick: where the replay stands and its events (never the live view's). */
  onReplay?: (position: ReplayPosition, resets: boolean, events: TwinEvent[]) => void;
  /** This connection's welcome (participant id and role). */
  onWelcome?: (participantId: string, role: string) => void;
}

/** A command the server refused, with its stable code and its sentence. */
export class CommandError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function valueOf(value: Value | undefined): unknown {
  switch (value?.kind.case) {
    case 'number':
    case 'boolean':
    case 'text':
      return value.kind.value;
    case 'integer':
      // sint64 arrives as a bigint; whole numbers within 2^53 are exact as numbers.
      return Number(value.kind.value);
    case 'json':
      try {
        return JSON.parse(value.kind.value) as unknown;
      } catch {
        return value.kind.value;
      }
    default:
      return undefined;
  }
}

export function poseOf(event: TwinEvent): TwinPose | undefined {
  const p = event.worldPose;
  if (!p?.position) return undefined;
  const r = p.rotation;
  const s = p.scale;
  return {
    position: new Vector3(p.position.x, p.position.y, p.position.z),
    rotation: r ? new Quaternion(r.x, r.y, r.z, r.w).normalize() : new Quaternion(),
    scale: s ? new Vector3(s.x, s.y, s.z) : new Vector3(1, 1, 1),
  };
}

export function applyFields(twin: Twin, fields: Field[], at: string): Twin {
  const properties = { ...twin.properties };
  const updated = { ...twin.updated };
  let placement = twin.placement;
  for (const field of fields) {
    const value = valueOf(field.value);
    if (field.name === '$placement') {
      placement = (value as Placement | undefined) ?? null;
      continue;
    }
    if (field.name.startsWith('$')) continue;
    if (value === undefined) delete properties[field.name];
    else properties[field.name] = value;
    updated[field.name] = at;
  }
  return { ...twin, properties, updated, placement, etag: '', version: twin.version };
}

/** The last time converted: the events of a tick mostly share their times. */
let lastNs = -1n;
let lastIso = '';

export function isoOf(unixNs: bigint): string {
  if (unixNs !== lastNs) {
    const ms = Number(unixNs / 1_000_000n);
    lastNs = unixNs;
    lastIso = new Date(ms > 0 ? ms : Date.now()).toISOString();
  }
  return lastIso;
}

export class LiveSource {
  private socket: WebSocket | null = null;
  private stopped = false;
  private welcomed = false;
  private failures = 0;
  private lastSeq = 0n;
  private region: Region | undefined;
  private regionTimer = 0;
  private snapshot: Set<string> | null = null;
  private requestId = 0;

  constructor(
    private readonly token: string,
    private readonly world: string,
    private readonly events: LiveEvents,
    private readonly displayName = '',
    private readonly color = '',
  ) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    window.clearTimeout(this.regionTimer);
    this.socket?.close(1000, 'client closed the view');
    this.socket = null;
  }

  /** Moves the subscription's region (throttled); undefined means the whole world. */
  setRegion(center: [number, number, number] | null, radius: number): void {
    this.region = center
      ? ({ shape: { case: 'sphere', value: { center: { x: center[0], y: center[1], z: center[2] }, radius } } } as unknown as Region)
      : undefined;
    if (this.regionTimer) return;
    this.regionTimer = window.setTimeout(() => {
      this.regionTimer = 0;
      this.send({ case: 'updateRegion', value: { subscription: SUBSCRIPTION, region: this.region } });
    }, REGION_UPDATE_MS);
  }

  private send(body: unknown): number {
    if (this.socket?.readyState !== WebSocket.OPEN) return 0;
    const requestId = ++this.requestId;
    const message = create(ClientMessageSchema, { requestId, body: body as never });
    this.socket.send(toBinary(ClientMessageSchema, message));
    return requestId;
  }

  private pending = new Map<number, { resolve: (reply: Reply) => void; timer: number }>();

  /** Sends a command and waits for its reply: the `Ok` id, or a CommandError. */
  private command(body: unknown): Promise<string> {
    return new Promise((resolve, reject) => {
      const id = this.send(body);
      if (id === 0) {
        reject(new CommandError('NotConnected', 'Not connected to the live server right now; try again in a moment.'));
        return;
      }
      const timer = window.setTimeout(() => {
        this.pending.delete(id);
        reject(new CommandError('Timeout', `The server did not answer within ${REPLY_TIMEOUT_MS / 1000} s.`));
      }, REPLY_TIMEOUT_MS);
      this.pending.set(id, {
        timer,
        resolve: (reply) => {
          if (reply.outcome.case === 'error') reject(new CommandError(reply.outcome.value.code, reply.outcome.value.message));
          else resolve(reply.outcome.case === 'ok' ? reply.outcome.value.id : '');
        },
      });
    });
  }

  /** Whether the live connection is up and welcomed. */
  get connected(): boolean {
    return this.welcomed && this.socket?.readyState === WebSocket.OPEN;
  }

  private lastPresence = 0;
  private presenceTimer = 0;
  private presenceQueued: PresenceUpdate = {};

  /**
   * Sends presence, at most once per PRESENCE_MS_MIN (30 a second): updates
   * arriving faster are merged, and the latest goes out when the wait is over.
   */
  setPresence(update: PresenceUpdate): void {
    this.presenceQueued = { ...this.presenceQueued, ...update };
    if (this.presenceTimer) return;
    const wait = Math.max(0, this.lastPresence + PRESENCE_MS_MIN - performance.now());
    this.presenceTimer = window.setTimeout(() => {
      this.presenceTimer = 0;
      this.lastPresence = performance.now();
      const u = this.presenceQueued;
      this.presenceQueued = {};
      const pose = (p?: PresencePose) =>
        p && {
          position: { x: p.position[0], y: p.position[1], z: p.position[2] },
          rotation: { x: p.rotation[0], y: p.rotation[1], z: p.rotation[2], w: p.rotation[3] },
        };
      const v = (a: [number, number, number]) => ({ x: a[0], y: a[1], z: a[2] });
      this.presenceSent += 1;
      this.send({
        case: 'setPresence',
        value: {
          head: pose(u.head),
          leftHand: pose(u.leftHand),
          rightHand: pose(u.rightHand),
          pointer: u.pointer && { origin: v(u.pointer.origin), direction: v(u.pointer.direction) },
          selectedTwinId: u.selected ?? '',
          clearSelection: u.selected === null,
        },
      });
    }, wait);
  }

  /** Presence messages sent (the tests check the rate bound with it). */
  presenceSent = 0;

  sendChat(text: string): Promise<string> {
    return this.command({ case: 'sendChat', value: { text } });
  }

  /** Pins a note to a twin (`point` is an offset from it, z-up metres): the new annotation's id. */
  createAnnotation(twinId: string, point: [number, number, number], text: string): Promise<string> {
    return this.command({ case: 'createAnnotation', value: { twinId, point: { x: point[0], y: point[1], z: point[2] }, text } });
  }

  deleteAnnotation(id: string): Promise<string> {
    return this.command({ case: 'deleteAnnotation', value: { annotationId: id } });
  }

  /** Replay control: START at an instant and speed, PAUSE, RESUME, SPEED, STOP. */
  replay(action: Replay_Action, fromMs = 0, speed = 1): Promise<string> {
    return this.command({
      case: 'replay',
      value: { action, subscription: REPLAY_SUBSCRIPTION, fromUnixNs: BigInt(Math.round(fromMs)) * 1_000_000n, speed },
    });
  }

  private connect(): void {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(`${scheme}//${location.host}/worlds/${this.world}/live`);
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    this.welcomed = false;
    socket.onopen = () => {
      this.send({
        case: 'hello',
        value: { protocolVersion: PROTOCOL_VERSION, token: this.token, world: this.world, displayName: this.displayName, color: this.color },
      });
    };
    socket.onmessage = (event: MessageEvent) => {
      if (!(event.data instanceof ArrayBuffer) || event.data.byteLength > FRAME_BYTES_MAX) return;
      let message: ServerMessage;
      try {
        message = fromBinary(ServerMessageSchema, new Uint8Array(event.data));
      } catch {
        socket.close(4000, 'the client could not decode a server message');
        return;
      }
      this.receive(message);
    };
    socket.onclose = (event: CloseEvent) => void this.closed(socket, event);
  }

  /** Applies one binary frame as if it came from the socket (the benchmark feeds frames this way). */
  receiveBytes(data: Uint8Array): void {
    this.receive(fromBinary(ServerMessageSchema, data));
  }

  private receive(message: ServerMessage): void {
    const body = message.body;
    if (body.case === 'reply') {
      const waiting = this.pending.get(body.value.requestId);
      if (waiting) {
        this.pending.delete(body.value.requestId);
        window.clearTimeout(waiting.timer);
        waiting.resolve(body.value);
      }
      return;
    }
    if (body.case === 'welcome') {
      this.welcomed = true;
      this.events.onWelcome?.(body.value.participantId, body.value.role);
      this.failures = 0;
      this.snapshot = this.lastSeq === 0n ? new Set() : null;
      this.send({
        case: 'subscribe',
        value: { subscription: SUBSCRIPTION, region: this.region, resumeAfterSeq: this.lastSeq },
      });
      this.events.onStatus('live');
      return;
    }
    if (body.case !== 'tick') return;
    const tick = body.value;
    if (tick.presence.length) this.events.onPresence?.(tick.presence);
    if (tick.chat.length) this.events.onChat?.(tick.chat);
    if (tick.annotations.length) this.events.onAnnotations?.(tick.annotations);
    if (tick.replay) {
      // Recorded history: never applied to the live view.
      const position = tick.replay;
      const reset = tick.resets.some((r) => r.subscription === position.subscription);
      this.events.onReplay?.(position, reset, tick.events.filter((e) => e.subscription === position.subscription));
      return;
    }
    if (tick.resets.some((r) => r.subscription === SUBSCRIPTION)) {
      this.snapshot = new Set();
      this.events.onReset();
    }
    for (const event of tick.events) if (event.subscription === SUBSCRIPTION) this.apply(event);
    for (const synced of tick.synced) {
      if (synced.subscription !== SUBSCRIPTION) continue;
      // A fresh snapshot is the whole truth: twins it did not bring are gone.
      if (!synced.resumed && this.snapshot) this.pruneTo(this.snapshot);
      this.snapshot = null;
    }
    if (message.seq > this.lastSeq) this.lastSeq = message.seq;
    this.events.onSynced();
  }

  private pruneHook: ((keep: Set<string>) => void) | null = null;

  /** Lets the owner drop twins a fresh snapshot did not include. */
  onPrune(hook: (keep: Set<string>) => void): void {
    this.pruneHook = hook;
  }

  private pruneTo(keep: Set<string>): void {
    this.pruneHook?.(keep);
  }

  private apply(event: TwinEvent): void {
    const at = isoOf(event.changedAtUnixNs);
    if (event.kind === TwinEventKind.ENTER) {
      this.snapshot?.add(event.twinId);
      const empty: Twin = { id: event.twinId, model: event.model, etag: '', properties: {}, updated: {}, placement: null, version: 0 };
      const twin = applyFields(empty, event.fields, at);
      const pose = poseOf(event);
      if (pose) twin.worldPose = pose;
      this.events.onEnter(twin);
    } else if (event.kind === TwinEventKind.UPDATE && !event.worldPose && !event.fields.some((f) => f.name.startsWith('$'))) {
      this.events.onValues(
        event.twinId,
        event.fields.map((f) => [f.name, valueOf(f.value)]),
        at,
      );
    } else if (event.kind === TwinEventKind.UPDATE) {
      const pose = poseOf(event);
      this.events.onUpdate(event.twinId, (held) => {
        const twin = applyFields(held, event.fields, at);
        if (pose) twin.worldPose = pose;
        return twin;
      });
    } else if (event.kind === TwinEventKind.LEAVE) {
      this.events.onLeave(event.twinId);
    }
  }

  private async closed(socket: WebSocket, event: CloseEvent): Promise<void> {
    if (socket !== this.socket || this.stopped) return;
    this.socket = null;
    for (const [id, waiting] of this.pending) {
      window.clearTimeout(waiting.timer);
      waiting.resolve({ requestId: id, outcome: { case: 'error', value: { code: 'Disconnected', message: 'The live connection dropped before the server answered.' } } } as unknown as Reply);
    }
    this.pending.clear();
    const reason = event.reason ? `: ${event.reason}` : '';
    if (event.code === 4002 || event.code === 1008) {
      this.events.onStatus('auth', `The server refused this token for live updates${reason}.`);
      return;
    }
    if (event.code === 4004) {
      this.events.onStatus('missing', `The world "${this.world}" no longer exists${reason}.`);
      return;
    }
    // Never welcomed on this attempt: the server may have no live route at all
    // (an older server), which is not an outage.
    if (!this.welcomed && !(await this.endpointExists())) {
      this.events.onStatus('unavailable');
      return;
    }
    this.failures += 1;
    const wait = Math.min(500 * 2 ** Math.min(this.failures, 5), RETRY_MS_MAX);
    this.events.onStatus('reconnecting', `Lost the live connection to the Twinspace server${reason}. Reconnecting in ${Math.ceil(wait / 1000)} s…`);
    window.setTimeout(() => {
      if (!this.stopped) this.connect();
    }, wait);
  }

  /** Whether the server has the live route (a plain GET answers something other than RouteNotFound). */
  private async endpointExists(): Promise<boolean> {
    try {
      const response = await fetch(`/worlds/${this.world}/live`, { headers: { Accept: 'application/json' } });
      if (response.status !== 404) return true;
      const body = (await response.json().catch(() => null)) as { error?: { code?: string } } | null;
      return body?.error?.code !== 'RouteNotFound';
    } catch {
      // The server itself is unreachable: the endpoint may well exist; keep trying.
      return true;
    }
  }
}
