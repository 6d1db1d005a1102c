// The web client's benchmark (`npm run bench`, after `npm run build` and a
// twinspace build): starts the real server, fills a world with N twins of the
// demo models over REST (default 10,000, placed on a grid, six kinds of asset),
// opens it in headless chromium and prints
//   - draw calls and frame time with every twin in view (software WebGL: the
//     figure for a laptop without a GPU),
//   - decode + apply of 100,000 live updates through the client's real path,
//     and what 100,000 updates/s would cost per 60 Hz frame.
//
//   BENCH_TWINS=10000 BENCH_UPDATES=100000 npm run bench

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser, REPO, rest, startServer } from '../tests/harness.mjs';

const TWINS = Number(process.env.BENCH_TWINS ?? 10_000);
const UPDATES = Number(process.env.BENCH_UPDATES ?? 100_000);
/** Requests in flight while filling the world (each waits for a group commit). */
const IN_FLIGHT = 32;
const FRAMES = Number(process.env.BENCH_FRAMES ?? 10);

const KINDS = [
  ['CncMachine', 'cnc', { name: 'CNC', state: 'running', power: 11, spindleSpeed: 8000, spindleTemperature: 35, program: 'O1001', partsMade: 0 }],
  ['Conveyor', 'conveyor', { name: 'Conveyor', state: 'running', power: 1.2, speed: 0.5, itemsPerMinute: 30 }],
  ['RobotArm', 'robot-arm', { name: 'Robot', state: 'running', power: 4.5, cycleTime: 12, cycles: 0, gripper: { $metadata: {}, closed: false, force: 0 } }],
  ['Sensor', 'sensor', { name: 'Sensor', value: 21.5, quantity: 'temperature' }],
];

async function fill(server) {
  await rest(server, 'POST', '/worlds', { id: 'bench' });
  const models = JSON.parse(readFileSync(join(REPO, 'demo/factory/models.json'), 'utf8'));
  await rest(server, 'POST', '/worlds/bench/models', models);
  const side = Math.ceil(Math.sqrt(TWINS));
  let next = 0;
  const started = Date.now();
  const worker = async () => {
    while (next < TWINS) {
      const i = next++;
      const [model, asset, body] = KINDS[i % KINDS.length];
      const twin = {
        ...body,
        $metadata: { $model: `dtmi:twinspace:demo:${model};1` },
        $placement: { position: [(i % side) * 6, Math.floor(i / side) * 6, 0], asset: `asset:${asset}` },
      };
      await rest(server, 'PUT', `/worlds/bench/digitaltwins/t${i}`, twin);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return (Date.now() - started) / 1000;
}

const server = await startServer();
const browser = await launchBrowser();
try {
  const seconds = await fill(server);
  console.log(`world 'bench': ${TWINS} twins created over REST in ${seconds.toFixed(1)} s`);
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (e) => console.error('page error:', e));
  const opened = Date.now();
  await page.goto(`${server.base}/?token=${server.token}&world=bench`);
  await page.waitForFunction(() => window.__twinspace?.ready === true, null, { timeout: 300_000 });
  console.log(`opened in the browser (REST load, assets, first frame) in ${((Date.now() - opened) / 1000).toFixed(1)} s`);
  const frames = FRAMES > 0 ? await page.evaluate((n) => window.__twinspace.benchFrames(n), FRAMES) : { drawCalls: 0, triangles: 0, msPerFrame: NaN };
  const stats = await page.evaluate(() => window.__twinspace.stats());
  console.log(`twins drawn                ${stats.instances} (${stats.fallbackInstances} as default shapes)`);
  console.log(`draw calls per frame       ${frames.drawCalls} (target <= 50)`);
  console.log(`triangles per frame        ${frames.triangles}`);
  console.log(`frame time, all in view    ${frames.msPerFrame.toFixed(1)} ms (${(1000 / frames.msPerFrame).toFixed(1)} fps, software WebGL, ${FRAMES} frames)`);
  const applied = await page.evaluate((n) => window.__twinspace.benchDecodeApply(n), UPDATES);
  const perFrameMs = (100_000 / 60 / applied.updates) * applied.ms;
  console.log(
    `decode + apply             ${applied.updates} updates in ${applied.ticks} ticks (${(applied.bytes / 1e6).toFixed(1)} MB) in ${applied.ms.toFixed(0)} ms (decoding alone ${applied.decodeMs.toFixed(0)} ms): ${Math.round(applied.updatesPerSecond).toLocaleString('en-US')} updates/s`,
  );
  console.log(
    `100,000 updates/s costs    ${perFrameMs.toFixed(2)} ms per 60 Hz frame = ${((perFrameMs / (1000 / 60)) * 100).toFixed(0)}% of a frame (target <= 30%)`,
  );
  // The same with the twins coloured by the property being updated: every tick
  // recomputes the scale and recolours what changed.
  await page.evaluate(() => window.__twinspace.colorBy('power'));
  const colored = await page.evaluate((n) => window.__twinspace.benchDecodeApply(n), UPDATES);
  const coloredFrameMs = (100_000 / 60 / colored.updates) * colored.ms;
  console.log(
    `  with colour-by 'power'   ${Math.round(colored.updatesPerSecond).toLocaleString('en-US')} updates/s, ${coloredFrameMs.toFixed(2)} ms per frame = ${((coloredFrameMs / (1000 / 60)) * 100).toFixed(0)}% of a frame`,
  );
} finally {
  await browser.close();
  await server.stop();
}
