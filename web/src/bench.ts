// The client's hot path, measured in the page (loaded only when the benchmark
// asks): live updates are encoded as the server would send them (ticks of
// TwinEvent UPDATEs, not timed), then decoded and applied through the same
// LiveSource and client code a real connection uses, redraws included.

import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ServerMessageSchema, TwinEventKind } from './gen/twinspace/live/v1/live_pb';
import { LiveSource, type LiveEvents } from './live';

/** Updates per tick, as a 20 Hz server tick would carry at 100,000 updates/s. */
const UPDATES_PER_TICK = 5_000;
/** Most updates one run applies (bounds the memory of the encoded frames). */
const UPDATES_MAX = 1_000_000;

export interface DecodeApplyResult {
  updates: number;
  ticks: number;
  bytes: number;
  ms: number;
  updatesPerSecond: number;
  /** Of `ms`, the protobuf decoding alone (measured in a separate pass). */
  decodeMs: number;
}

export function decodeApply(world: string, ids: string[], events: LiveEvents, updates: number): DecodeApplyResult {
  if (ids.length === 0) throw new Error('the world has no twins to update');
  const total = Math.min(Math.max(updates, 1), UPDATES_MAX);
  const frames: Uint8Array[] = [];
  let bytes = 0;
  let seq = 1n;
  for (let done = 0; done < total; done += UPDATES_PER_TICK) {
    const n = Math.min(UPDATES_PER_TICK, total - done);
    const message = create(ServerMessageSchema, {
      seq: seq++,
      sentAtUnixNs: BigInt(Date.now()) * 1_000_000n,
      body: {
        case: 'tick',
        value: {
          events: Array.from({ length: n }, (_, i) => ({
            subscription: 1,
            kind: TwinEventKind.UPDATE,
            twinId: ids[(done + i) % ids.length] ?? '',
            fields: [{ name: 'power', value: { kind: { case: 'number' as const, value: 1 + ((done + i) % 97) / 10 } } }],
            changedAtUnixNs: BigInt(Date.now()) * 1_000_000n,
          })),
        },
      },
    });
    const frame = toBinary(ServerMessageSchema, message);
    bytes += frame.byteLength;
    frames.push(frame);
  }
  const decodeStart = performance.now();
  for (const frame of frames) fromBinary(ServerMessageSchema, frame);
  const decodeMs = performance.now() - decodeStart;
  const source = new LiveSource('', world, events);
  const start = performance.now();
  for (const frame of frames) source.receiveBytes(frame);
  const ms = performance.now() - start;
  return { updates: total, ticks: frames.length, bytes, ms, updatesPerSecond: (total / ms) * 1000, decodeMs };
}
