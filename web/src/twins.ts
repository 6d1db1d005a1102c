// The client's copy of a world's twins: their properties with update times and
// their placements, and world poses composed through parents exactly as the
// server composes them (position + rotation * (scale * child position)), so a
// twin is drawn where a region query finds it.

import { Quaternion, Vector3 } from 'three';
import type { Placement, TwinJson } from './api';

/** Deepest parent chain followed; deeper (or cyclic) chains are drawn at their own pose. */
const PARENT_DEPTH_MAX = 64;

export interface Pose {
  position: Vector3;
  rotation: Quaternion;
  scale: Vector3;
}

export interface Twin {
  id: string;
  model: string;
  etag: string;
  /** Property and component values (everything not starting with `$`). */
  properties: Record<string, unknown>;
  /** Last update time per property, ISO 8601, from `$metadata`. */
  updated: Record<string, string>;
  placement: Placement | null;
  /** Bumped on every change, so views know what to redraw. */
  version: number;
  /**
   * The world pose the server computed (live events carry it), used when the
   * placement parent is not held here, e.g. outside the live region.
   */
  worldPose?: Pose;
}

const IDENTITY: Placement = { parent: null, position: [0, 0, 0], rotation: [0, 0, 0, 1], scale: [1, 1, 1], asset: null };

export function twinOf(json: TwinJson): Twin {
  const properties: Record<string, unknown> = {};
  const updated: Record<string, string> = {};
  for (const [key, value] of Object.entries(json)) {
    if (!key.startsWith('$')) properties[key] = value;
  }
  for (const [key, value] of Object.entries(json.$metadata ?? {})) {
    if (key.startsWith('$')) continue;
    const time = (value as { lastUpdateTime?: string } | null)?.lastUpdateTime;
    if (time) updated[key] = time;
  }
  return {
    id: json.$dtId,
    model: json.$metadata?.$model ?? '',
    etag: json.$etag,
    properties,
    updated,
    placement: json.$placement ?? null,
    version: 0,
  };
}

export class TwinSet {
  readonly twins = new Map<string, Twin>();
  /** How many twins name each twin as their placement parent. */
  private readonly childCount = new Map<string, number>();
  private poses = new Map<string, Pose>();
  /** Bumped whenever a placement changes: poses are recomputed lazily after. */
  private placementVersion = 0;
  private posesVersion = -1;

  /** Adds or replaces a twin; says whether its placement changed. */
  upsert(twin: Twin): boolean {
    const before = this.twins.get(twin.id);
    twin.version = (before?.version ?? 0) + 1;
    this.twins.set(twin.id, twin);
    if (before?.placement?.parent !== twin.placement?.parent) {
      this.countChild(before?.placement?.parent, -1);
      this.countChild(twin.placement?.parent, 1);
    }
    const moved =
      !before ||
      (before.placement !== twin.placement && JSON.stringify(before.placement) !== JSON.stringify(twin.placement)) ||
      Boolean(twin.worldPose && !(before.worldPose?.position.equals(twin.worldPose.position) && before.worldPose.rotation.equals(twin.worldPose.rotation)));
    if (moved) this.placementVersion += 1;
    return moved;
  }

  remove(id: string): void {
    const before = this.twins.get(id);
    if (!before) return;
    this.twins.delete(id);
    this.countChild(before.placement?.parent, -1);
    this.placementVersion += 1;
  }

  private countChild(parent: string | null | undefined, delta: number): void {
    if (!parent) return;
    const n = (this.childCount.get(parent) ?? 0) + delta;
    if (n > 0) this.childCount.set(parent, n);
    else this.childCount.delete(parent);
  }

  /** Whether some twin is placed relative to this one (moving it moves them). */
  hasChildren(id: string): boolean {
    return this.childCount.has(id);
  }

  get size(): number {
    return this.twins.size;
  }

  /** The twin's pose in the world, composed through its parents. */
  pose(id: string): Pose {
    if (this.posesVersion !== this.placementVersion) {
      this.poses = new Map();
      this.posesVersion = this.placementVersion;
    }
    return this.compose(id, 0);
  }

  private compose(id: string, depth: number): Pose {
    const cached = this.poses.get(id);
    if (cached) return cached;
    const placement = this.twins.get(id)?.placement ?? IDENTITY;
    const local: Pose = {
      position: new Vector3(...placement.position),
      rotation: new Quaternion(...placement.rotation).normalize(),
      scale: new Vector3(...placement.scale),
    };
    let pose = local;
    const fromServer = this.twins.get(id)?.worldPose;
    if (placement.parent && !this.twins.has(placement.parent) && fromServer) {
      pose = fromServer;
    } else if (placement.parent && placement.parent !== id && depth < PARENT_DEPTH_MAX && this.twins.has(placement.parent)) {
      const parent = this.compose(placement.parent, depth + 1);
      pose = {
        position: local.position.clone().multiply(parent.scale).applyQuaternion(parent.rotation).add(parent.position),
        rotation: parent.rotation.clone().multiply(local.rotation).normalize(),
        scale: parent.scale.clone().multiply(local.scale),
      };
    }
    this.poses.set(id, pose);
    return pose;
  }

  /** The children of each twin (by placement parent), for the scene tree. */
  children(): Map<string | null, string[]> {
    const out = new Map<string | null, string[]>();
    for (const twin of this.twins.values()) {
      const parent = twin.placement?.parent && this.twins.has(twin.placement.parent) ? twin.placement.parent : null;
      const list = out.get(parent) ?? [];
      list.push(twin.id);
      out.set(parent, list);
    }
    for (const list of out.values()) list.sort();
    return out;
  }
}
