// Generates the demo factory's 3D assets as binary glTF 2.0 (GLB) files from
// procedural meshes: the conveyor, robot arm, CNC machine, sensor, hall shell
// and site ground that `$placement.asset` names as `asset:<id>`. Every mesh is
// built here from boxes and cylinders. Colours are per vertex (COLOR_0) and the
// meshes are merged into at most three primitives per asset, one per finish
// (painted body, matte parts, bare metal), so that a twin costs at most three
// draw calls whatever its detail, and thousands of instanced twins of six assets
// stay within a few dozen. Files carry the accessor bounds, alignment and unit
// normals the Khronos glTF validator checks.
//
// Assets are y-up, in metres, with the floor at y = 0, as glTF specifies; the
// client turns them into Twinspace's z-up world. The material whose
// `extras.role` is "body" is the one the client tints when colouring twins by a
// property.
//
//   node tools/make-assets.mjs OUT_DIR     writes OUT_DIR/<id>.glb for every asset

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// ---------------------------------------------------------------- geometry

/** A 4x4 column-major matrix for a translation followed by rotations (radians). */
function transform({ at = [0, 0, 0], rx = 0, ry = 0, rz = 0 } = {}) {
  const [cx, sx, cy, sy, cz, sz] = [Math.cos(rx), Math.sin(rx), Math.cos(ry), Math.sin(ry), Math.cos(rz), Math.sin(rz)];
  // R = Rz * Ry * Rx, rows written out.
  const r = [
    [cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx],
    [sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx],
    [-sy, cy * sx, cy * cx],
  ];
  return { r, t: at };
}

function apply(m, [x, y, z]) {
  const { r, t } = m;
  return [
    r[0][0] * x + r[0][1] * y + r[0][2] * z + t[0],
    r[1][0] * x + r[1][1] * y + r[1][2] * z + t[1],
    r[2][0] * x + r[2][1] * y + r[2][2] * z + t[2],
  ];
}

function rotate(m, [x, y, z]) {
  const { r } = m;
  return [
    r[0][0] * x + r[0][1] * y + r[0][2] * z,
    r[1][0] * x + r[1][1] * y + r[1][2] * z,
    r[2][0] * x + r[2][1] * y + r[2][2] * z,
  ];
}

/** Triangles being gathered for one material: positions, normals, indices. */
class Part {
  constructor() {
    this.positions = [];
    this.normals = [];
    this.colors = [];
    this.indices = [];
    /** The colour given to the vertices added next (linear RGB). */
    this.color = [1, 1, 1];
  }

  vertex(position, normal) {
    this.positions.push(...position);
    this.normals.push(...normal);
    this.colors.push(...this.color);
  }

  get vertexCount() {
    return this.positions.length / 3;
  }

  /** A quad (a, b, c, d counter-clockwise seen from outside) with normal n. */
  quad(m, a, b, c, d, n) {
    const base = this.vertexCount;
    const normal = rotate(m, n);
    for (const p of [a, b, c, d]) this.vertex(apply(m, p), normal);
    this.indices.push(base, base + 1, base + 2, base, base + 2, base + 3);
  }

  /** An axis-aligned box of size [w, h, d], its base centred at `at` (rotated by the rest). */
  box(size, placement = {}) {
    const [w, h, d] = size;
    const m = transform(placement);
    const x0 = -w / 2, x1 = w / 2, y0 = 0, y1 = h, z0 = -d / 2, z1 = d / 2;
    this.quad(m, [x0, y0, z1], [x1, y0, z1], [x1, y1, z1], [x0, y1, z1], [0, 0, 1]);
    this.quad(m, [x1, y0, z0], [x0, y0, z0], [x0, y1, z0], [x1, y1, z0], [0, 0, -1]);
    this.quad(m, [x1, y0, z1], [x1, y0, z0], [x1, y1, z0], [x1, y1, z1], [1, 0, 0]);
    this.quad(m, [x0, y0, z0], [x0, y0, z1], [x0, y1, z1], [x0, y1, z0], [-1, 0, 0]);
    this.quad(m, [x0, y1, z1], [x1, y1, z1], [x1, y1, z0], [x0, y1, z0], [0, 1, 0]);
    this.quad(m, [x0, y0, z0], [x1, y0, z0], [x1, y0, z1], [x0, y0, z1], [0, -1, 0]);
    return this;
  }

  /** A capped cylinder of radius r and height h along its local y axis, base at `at`. */
  cylinder(radius, height, placement = {}, segments = 16) {
    const m = transform(placement);
    const ring = [];
    for (let i = 0; i <= segments; i += 1) {
      const a = (i / segments) * Math.PI * 2;
      ring.push([Math.cos(a), Math.sin(a)]);
    }
    // Sides: smooth normals.
    const base = this.vertexCount;
    for (const [c, s] of ring) {
      const n = rotate(m, [c, 0, s]);
      this.vertex(apply(m, [c * radius, 0, s * radius]), n);
      this.vertex(apply(m, [c * radius, height, s * radius]), n);
    }
    for (let i = 0; i < segments; i += 1) {
      const a = base + i * 2;
      // Counter-clockwise seen from outside.
      this.indices.push(a, a + 1, a + 3, a, a + 3, a + 2);
    }
    // Caps: a fan each.
    for (const [y, ny] of [[height, 1], [0, -1]]) {
      const centre = this.vertexCount;
      const n = rotate(m, [0, ny, 0]);
      this.vertex(apply(m, [0, y, 0]), n);
      for (const [c, s] of ring) this.vertex(apply(m, [c * radius, y, s * radius]), n);
      for (let i = 0; i < segments; i += 1) {
        const a = centre + 1 + i;
        if (ny > 0) this.indices.push(centre, a + 1, a);
        else this.indices.push(centre, a, a + 1);
      }
    }
    return this;
  }
}

// ---------------------------------------------------------------- materials

/** The finishes an asset's primitives are grouped by; each is one glTF material. */
const FINISHES = {
  body: { metallic: 0.15, roughness: 0.5, role: 'body' },
  matte: { metallic: 0, roughness: 0.85 },
  metal: { metallic: 0.65, roughness: 0.35 },
};

/** Named paints: a colour (sRGB, as a person picks it) on a finish. */
const PAINTS = {
  steel: { color: '#8d949c', finish: 'metal' },
  darkSteel: { color: '#2b2e33', finish: 'metal' },
  rubber: { color: '#141416', finish: 'matte' },
  safetyYellow: { color: '#f5b50d', finish: 'body' },
  robotOrange: { color: '#f26a1b', finish: 'body' },
  machineWhite: { color: '#e6e9ec', finish: 'body' },
  machineBlue: { color: '#1565a8', finish: 'body' },
  glass: { color: '#23384a', finish: 'metal' },
  accentBlue: { color: '#1565a8', finish: 'matte' },
  signalGreen: { color: '#35e06a', finish: 'matte' },
  signalAmber: { color: '#ffb020', finish: 'matte' },
  signalRed: { color: '#e5262a', finish: 'matte' },
  parcel: { color: '#c8955a', finish: 'matte' },
  sensorWhite: { color: '#f3f5f7', finish: 'body' },
  concrete: { color: '#a4a7a8', finish: 'body' },
  paintYellow: { color: '#e8c020', finish: 'matte' },
  wallPanel: { color: '#c9d0d8', finish: 'matte' },
  columnBlue: { color: '#24476e', finish: 'metal' },
  asphalt: { color: '#4a4f52', finish: 'body' },
  grass: { color: '#6f8f55', finish: 'matte' },
  roadMark: { color: '#f2f2ee', finish: 'matte' },
};

/** sRGB hex to the linear RGB that glTF vertex colours hold. */
function linear(hex) {
  const toLinear = (c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  return [1, 3, 5].map((i) => toLinear(parseInt(hex.slice(i, i + 2), 16) / 255));
}

/** An asset being built: one Part per material name. */
class Asset {
  constructor(id, title) {
    this.id = id;
    this.title = title;
    this.parts = new Map();
  }

  /** The part of the paint's finish, set to add vertices in that paint. */
  part(paint) {
    const spec = PAINTS[paint];
    if (!spec) throw new Error(`unknown paint ${paint}`);
    if (!this.parts.has(spec.finish)) this.parts.set(spec.finish, new Part());
    const part = this.parts.get(spec.finish);
    part.color = linear(spec.color);
    return part;
  }
}

// ---------------------------------------------------------------- the assets

/** A belt conveyor 4.6 m long (along x), 1 m wide, belt at 0.9 m. */
function conveyor() {
  const a = new Asset('conveyor', 'Belt conveyor');
  const length = 4.6, width = 1.0, top = 0.9;
  a.part('rubber').box([length, 0.04, width - 0.12], { at: [0, top - 0.02, 0] });
  for (let i = 0; i < 12; i += 1) {
    const x = -length / 2 + 0.2 + (i * (length - 0.4)) / 11;
    a.part('steel').cylinder(0.05, width - 0.1, { at: [x, top - 0.07, -(width - 0.1) / 2], rx: Math.PI / 2 }, 10);
  }
  for (const z of [-width / 2 + 0.03, width / 2 - 0.03]) {
    a.part('safetyYellow').box([length, 0.18, 0.06], { at: [0, top - 0.12, z] });
    a.part('darkSteel').box([length, 0.08, 0.06], { at: [0, 0.25, z] });
  }
  for (const x of [-length / 2 + 0.15, 0, length / 2 - 0.15]) {
    for (const z of [-width / 2 + 0.06, width / 2 - 0.06]) {
      a.part('darkSteel').box([0.08, top - 0.12, 0.08], { at: [x, 0, z] });
    }
  }
  // Motor and gearbox at the drive end.
  a.part('accentBlue').cylinder(0.14, 0.35, { at: [length / 2 - 0.25, top - 0.28, width / 2], rx: Math.PI / 2 }, 14);
  a.part('darkSteel').box([0.3, 0.3, 0.2], { at: [length / 2 - 0.25, top - 0.42, width / 2 + 0.1] });
  // A few parcels riding on the belt.
  for (const x of [-1.5, 0.2, 1.6]) {
    a.part('parcel').box([0.4, 0.3, 0.5], { at: [x, top, 0], ry: x * 0.3 });
  }
  return a;
}

/** A six-axis robot arm on a pedestal, reaching towards +z (its conveyor). */
function robotArm() {
  const a = new Asset('robot-arm', 'Six-axis robot arm');
  a.part('darkSteel').box([1.1, 0.12, 1.1], {});
  a.part('darkSteel').cylinder(0.32, 0.5, { at: [0, 0.12, 0] }, 20);
  a.part('robotOrange').cylinder(0.38, 0.35, { at: [0, 0.62, 0] }, 20);
  // Shoulder.
  a.part('robotOrange').box([0.5, 0.55, 0.5], { at: [0, 0.9, 0] });
  a.part('darkSteel').cylinder(0.2, 0.7, { at: [-0.35, 1.25, 0], rz: -Math.PI / 2 }, 16);
  // Upper arm, leaning forward 25 degrees.
  const lean = 0.6;
  const upper = 1.25;
  a.part('robotOrange').box([0.32, upper, 0.36], { at: [0, 1.2, 0], rx: lean });
  const elbow = [0, 1.2 + upper * Math.cos(lean), upper * Math.sin(lean)];
  a.part('darkSteel').cylinder(0.17, 0.5, { at: [-0.25, elbow[1], elbow[2]], rz: -Math.PI / 2 }, 16);
  // Forearm reaching out and down towards the belt.
  const reach = 1.55;
  const down = 2.2;
  a.part('robotOrange').box([0.26, reach, 0.28], { at: elbow, rx: down });
  const wrist = [0, elbow[1] + reach * Math.cos(down), elbow[2] + reach * Math.sin(down)];
  a.part('darkSteel').cylinder(0.1, 0.3, { at: [-0.15, wrist[1], wrist[2]], rz: -Math.PI / 2 }, 12);
  // Gripper pointing down.
  a.part('steel').box([0.2, 0.25, 0.2], { at: [0, wrist[1] - 0.25, wrist[2]] });
  for (const x of [-0.07, 0.07]) {
    a.part('steel').box([0.04, 0.2, 0.12], { at: [x, wrist[1] - 0.45, wrist[2]] });
  }
  a.part('signalGreen').box([0.1, 0.06, 0.1], { at: [0, 0.97 + 0.55, -0.2] });
  return a;
}

/**
 * A compact CNC machining centre, 3.4 m wide, 2.2 m deep, 2 m tall (its spindle
 * sensor sits on the roof), door facing +z.
 */
function cnc() {
  const a = new Asset('cnc', 'CNC machining centre');
  const w = 3.4, d = 2.2, h = 2.0;
  a.part('darkSteel').box([w + 0.1, 0.15, d + 0.1], {});
  a.part('machineWhite').box([w, h - 0.15, d], { at: [0, 0.15, 0] });
  // The sliding door with its window, proud of the front.
  a.part('machineBlue').box([1.9, 1.35, 0.06], { at: [-0.3, 0.35, d / 2 + 0.03] });
  a.part('glass').box([1.5, 0.8, 0.04], { at: [-0.3, 0.7, d / 2 + 0.07] });
  a.part('darkSteel').box([0.08, 0.35, 0.06], { at: [0.5, 0.8, d / 2 + 0.09] });
  // Control panel on an arm, to the right of the door.
  a.part('darkSteel').box([0.55, 0.7, 0.14], { at: [1.3, 0.8, d / 2 + 0.1] });
  a.part('glass').box([0.42, 0.3, 0.02], { at: [1.3, 1.12, d / 2 + 0.18] });
  // Stripe along the top and the chip conveyor at the side.
  a.part('machineBlue').box([w + 0.02, 0.12, d + 0.02], { at: [0, h - 0.3, 0] });
  a.part('darkSteel').box([0.5, 0.8, 1.6], { at: [w / 2 + 0.25, 0.0, -0.1] });
  // Signal tower: green, amber, red.
  const x = -w / 2 + 0.25, z = d / 2 - 0.25;
  a.part('darkSteel').cylinder(0.03, 0.25, { at: [x, h, z] }, 8);
  a.part('signalGreen').cylinder(0.07, 0.12, { at: [x, h + 0.25, z] }, 14);
  a.part('signalAmber').cylinder(0.07, 0.12, { at: [x, h + 0.38, z] }, 14);
  a.part('signalRed').cylinder(0.07, 0.12, { at: [x, h + 0.51, z] }, 14);
  return a;
}

/** A wireless sensor: a small housing with a probe and a status LED, ~0.35 m. */
function sensor() {
  const a = new Asset('sensor', 'Wireless sensor');
  a.part('darkSteel').box([0.36, 0.04, 0.36], {});
  a.part('sensorWhite').box([0.3, 0.22, 0.3], { at: [0, 0.04, 0] });
  a.part('steel').cylinder(0.025, 0.3, { at: [0.09, 0.26, -0.09] }, 10);
  a.part('accentBlue').cylinder(0.11, 0.04, { at: [0, 0.26, 0] }, 18);
  a.part('signalGreen').box([0.06, 0.05, 0.02], { at: [0, 0.14, 0.155] });
  return a;
}

/**
 * A factory hall shell, 40 m by 30 m, its origin at one corner and extending
 * along +x and -z (Twinspace's +x and +y): a concrete floor with painted walkways
 * and bays, two walls and columns, the other sides open as in a cut-away model.
 */
function hall() {
  const a = new Asset('hall', 'Factory hall (cut-away)');
  const w = 40, d = 30, wall = 5, thick = 0.25;
  const cx = w / 2, cz = -d / 2;
  a.part('concrete').box([w, 0.2, d], { at: [cx, -0.2, cz] });
  // Walkway lines: a border 1 m inside the edges and an aisle between the lines.
  const line = 0.12, lift = 0.005;
  for (const z of [-1, -(d - 1)]) a.part('paintYellow').box([w - 2, lift, line], { at: [cx, 0, z] });
  for (const x of [1, w - 1]) a.part('paintYellow').box([line, lift, d - 2], { at: [x, 0, cz] });
  for (const z of [-14.2, -15.8]) a.part('paintYellow').box([w - 4, lift, line], { at: [cx, 0, z] });
  // Back wall (far +y side) and left wall (x = 0), with a plinth.
  a.part('wallPanel').box([w, wall, thick], { at: [cx, 0, -d + thick / 2] });
  a.part('wallPanel').box([thick, wall, d], { at: [thick / 2, 0, cz] });
  a.part('columnBlue').box([w, 0.3, thick + 0.04], { at: [cx, 0, -d + thick / 2] });
  a.part('columnBlue').box([thick + 0.04, 0.3, d], { at: [thick / 2, 0, cz] });
  // Columns every 10 m along the open sides, and a ring beam on the walls.
  for (let x = 0; x <= w; x += 10) {
    a.part('columnBlue').box([0.4, wall + 0.4, 0.4], { at: [Math.min(Math.max(x, 0.2), w - 0.2), 0, -0.2] });
  }
  for (let z = 10; z < d; z += 10) {
    a.part('columnBlue').box([0.4, wall + 0.4, 0.4], { at: [w - 0.2, 0, -z] });
  }
  a.part('columnBlue').box([w, 0.4, 0.4], { at: [cx, wall, -d + 0.2] });
  a.part('columnBlue').box([0.4, 0.4, d], { at: [0.2, wall, cz] });
  return a;
}

/** The site's ground: grass, an asphalt yard and roads between the halls. */
function site() {
  const a = new Asset('site', 'Site ground');
  // The plant's layout: halls at (0,0), (0,40) and (50,0), each 40 by 30 m.
  a.part('grass').box([130, 0.1, 110], { at: [45, -0.45, -35] });
  a.part('asphalt').box([110, 0.1, 90], { at: [45, -0.36, -35] });
  // Road centre lines: along x between the rows of halls, along y between columns.
  for (let x = -5; x < 96; x += 6) a.part('roadMark').box([3, 0.02, 0.15], { at: [x, -0.26, -35] });
  for (let z = -75; z < 6; z += 6) a.part('roadMark').box([0.15, 0.02, 3], { at: [45, -0.26, z] });
  return a;
}

export const ASSETS = [conveyor, robotArm, cnc, sensor, hall, site];

// ---------------------------------------------------------------- GLB writer

function pad4(n) {
  return (n + 3) & ~3;
}

/** The asset as a GLB: one node, one mesh, one primitive per material. */
export function toGlb(asset) {
  const json = {
    asset: { version: '2.0', generator: 'Twinspace make-assets.mjs' },
    scene: 0,
    scenes: [{ name: asset.title, nodes: [0] }],
    nodes: [{ name: asset.id, mesh: 0 }],
    meshes: [{ name: asset.id, primitives: [] }],
    materials: [],
    accessors: [],
    bufferViews: [],
    buffers: [],
  };
  const chunks = [];
  let offset = 0;
  const view = (bytes, target) => {
    const index = json.bufferViews.length;
    json.bufferViews.push({ buffer: 0, byteOffset: offset, byteLength: bytes.byteLength, target });
    const padded = pad4(bytes.byteLength);
    const chunk = new Uint8Array(padded);
    chunk.set(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    chunks.push(chunk);
    offset += padded;
    return index;
  };
  for (const [name, part] of asset.parts) {
    const spec = FINISHES[name];
    const material = {
      name,
      pbrMetallicRoughness: {
        baseColorFactor: [1, 1, 1, 1],
        metallicFactor: spec.metallic,
        roughnessFactor: spec.roughness,
      },
    };
    if (spec.role) material.extras = { role: spec.role };
    json.materials.push(material);

    const positions = new Float32Array(part.positions);
    const normals = new Float32Array(part.normals);
    const colors = new Float32Array(part.colors);
    const count = part.vertexCount;
    const min = [Infinity, Infinity, Infinity];
    const max = [-Infinity, -Infinity, -Infinity];
    for (let i = 0; i < count; i += 1) {
      for (let k = 0; k < 3; k += 1) {
        // Bounds of the float32 values actually stored, as the validator compares them.
        const v = positions[i * 3 + k];
        min[k] = Math.min(min[k], v);
        max[k] = Math.max(max[k], v);
      }
    }
    for (let i = 0; i < count; i += 1) {
      // Unit length within float32 precision.
      const [x, y, z] = [normals[i * 3], normals[i * 3 + 1], normals[i * 3 + 2]];
      const length = Math.hypot(x, y, z);
      normals[i * 3] = x / length;
      normals[i * 3 + 1] = y / length;
      normals[i * 3 + 2] = z / length;
    }
    const wide = count > 65535;
    const indices = wide ? new Uint32Array(part.indices) : new Uint16Array(part.indices);
    const ARRAY_BUFFER = 34962, ELEMENT_ARRAY_BUFFER = 34963, FLOAT = 5126;
    const position = json.accessors.length;
    json.accessors.push({ bufferView: view(positions, ARRAY_BUFFER), componentType: FLOAT, count, type: 'VEC3', min, max });
    const normal = json.accessors.length;
    json.accessors.push({ bufferView: view(normals, ARRAY_BUFFER), componentType: FLOAT, count, type: 'VEC3' });
    const color = json.accessors.length;
    json.accessors.push({ bufferView: view(colors, ARRAY_BUFFER), componentType: FLOAT, count, type: 'VEC3' });
    const index = json.accessors.length;
    json.accessors.push({
      bufferView: view(indices, ELEMENT_ARRAY_BUFFER),
      componentType: wide ? 5125 : 5123,
      count: indices.length,
      type: 'SCALAR',
    });
    json.meshes[0].primitives.push({
      attributes: { POSITION: position, NORMAL: normal, COLOR_0: color },
      indices: index,
      material: json.materials.length - 1,
      mode: 4,
    });
  }
  json.buffers.push({ byteLength: offset });

  const bin = new Uint8Array(offset);
  let at = 0;
  for (const chunk of chunks) {
    bin.set(chunk, at);
    at += chunk.byteLength;
  }
  let text = JSON.stringify(json);
  while (text.length % 4 !== 0) text += ' ';
  const jsonBytes = new TextEncoder().encode(text);
  const total = 12 + 8 + jsonBytes.byteLength + 8 + bin.byteLength;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0x46546c67, true); // "glTF"
  dv.setUint32(4, 2, true);
  dv.setUint32(8, total, true);
  dv.setUint32(12, jsonBytes.byteLength, true);
  dv.setUint32(16, 0x4e4f534a, true); // "JSON"
  out.set(jsonBytes, 20);
  const binAt = 20 + jsonBytes.byteLength;
  dv.setUint32(binAt, bin.byteLength, true);
  dv.setUint32(binAt + 4, 0x004e4942, true); // "BIN\0"
  out.set(bin, binAt + 8);
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node tools/make-assets.mjs OUT_DIR');
    process.exit(2);
  }
  mkdirSync(dir, { recursive: true });
  for (const make of ASSETS) {
    const asset = make();
    const glb = toGlb(asset);
    writeFileSync(join(dir, `${asset.id}.glb`), glb);
    console.log(`${asset.id}.glb  ${glb.byteLength} bytes, ${asset.parts.size} primitives`);
  }
}
