// The demo's generated GLB assets pass the Khronos glTF validator with no
// errors and no warnings, hold the materials the client relies on (a "body"
// material to tint when colouring by a property), and stand on the floor.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateBytes } from 'gltf-validator';
import { ASSETS, toGlb } from '../tools/make-assets.mjs';

/** Every asset the demo factory names in `$placement.asset` (crates/twinspace/src/demo.rs). */
const DEMO_ASSETS = ['site', 'hall', 'conveyor', 'robot-arm', 'cnc', 'sensor'];

function jsonChunk(glb) {
  const view = new DataView(glb.buffer, glb.byteOffset, glb.byteLength);
  const length = view.getUint32(12, true);
  return JSON.parse(new TextDecoder().decode(glb.subarray(20, 20 + length)));
}

test('every demo asset is generated', () => {
  const ids = ASSETS.map((make) => make().id);
  for (const id of DEMO_ASSETS) assert.ok(ids.includes(id), `no generator for ${id}`);
});

for (const make of ASSETS) {
  const asset = make();
  test(`${asset.id}.glb passes the Khronos glTF validator`, async () => {
    const glb = toGlb(asset);
    const report = await validateBytes(glb);
    const problems = report.issues.messages.filter((m) => m.severity <= 1).map((m) => `${m.code} ${m.pointer ?? ''}: ${m.message}`);
    console.log(`${asset.id}.glb: ${glb.byteLength} bytes, ${report.issues.numErrors} errors, ${report.issues.numWarnings} warnings`);
    assert.deepEqual(problems, []);
    assert.equal(report.issues.numErrors, 0);
    const json = jsonChunk(glb);
    assert.ok(json.materials.some((m) => m.extras?.role === 'body'), 'a body material to tint');
    // Few draw calls per twin: one primitive per material.
    assert.equal(json.meshes[0].primitives.length, json.materials.length);
    // Equipment stands on the floor (y = 0); only the site and hall floors go below.
    const minY = Math.min(...json.meshes[0].primitives.map((p) => json.accessors[p.attributes.POSITION].min[1]));
    if (!['site', 'hall'].includes(asset.id)) assert.ok(Math.abs(minY) < 1e-6, `${asset.id} lowest point ${minY}`);
  });
}
