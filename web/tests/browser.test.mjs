// The web client in a real browser against the real server: `twinspace serve
// --demo` on a free port with a temp data directory, Debian's chromium driven by
// playwright-core. It checks what a person would: the factory is drawn (the
// canvas is not blank, every twin is in the scene, from its GLB asset, in few
// draw calls), clicking a machine shows its properties with units, a REST PATCH
// shows in the panel within a second, relationships lead to the related twin,
// colouring by a property shows a legend with the alarm first, and a bad token
// or a missing world gets a sentence a person understands. A failing test keeps
// a screenshot in web/test-results/.
//
//   npm run build && node --test tests/      (needs a built twinspace binary)

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { keepScreenshot, launchBrowser, rest, startServer } from './harness.mjs';

/** The demo factory's twins (crates/twinspace/src/demo.rs). */
const DEMO_TWINS = 38;
/** The client's draw-call budget for the demo (six assets, a few materials each). */
const DRAW_CALLS_MAX = 50;

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Runs `body` with a fresh page; on failure keeps a screenshot and says where. */
async function withPage(name, body, contextOptions = {}) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 860 }, ...contextOptions });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  try {
    await body(page);
    assert.deepEqual(errors, [], 'the page threw');
  } catch (error) {
    const shot = await keepScreenshot(page, name);
    error.message += `\n(screenshot: ${shot})`;
    throw error;
  } finally {
    await context.close();
  }
}

async function openDemo(page, name = '') {
  await page.goto(name ? `${server.url}&name=${encodeURIComponent(name)}` : server.url);
  await page.waitForFunction(() => window.__twinspace?.ready === true, null, { timeout: 30_000 });
}

/** Whether the server has the history API (the ingest work); without it those tests say so and stop. */
async function hasHistory() {
  const r = await fetch(`${server.base}/worlds/factory/digitaltwins/cnc2/history/fields`, { headers: { Authorization: `Bearer ${server.token}` } });
  if (r.status !== 404) return true;
  const body = await r.json().catch(() => null);
  return body?.error?.code !== 'RouteNotFound';
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('the demo factory in a browser', () => {
  test('renders every twin from its asset in few draw calls, and the canvas is not blank', async () => {
    await withPage('renders', async (page) => {
      await openDemo(page);
      const state = await page.evaluate(() => ({
        count: window.__twinspace.twinCount,
        stats: window.__twinspace.stats(),
        pixels: window.__twinspace.samplePixels(),
        search: location.search,
        stored: localStorage.getItem('twinspace.token'),
      }));
      assert.equal(state.count, DEMO_TWINS);
      assert.equal(state.stats.instances, DEMO_TWINS, 'every placed twin is drawn');
      assert.equal(state.stats.fallbackInstances, 0, 'every demo asset loaded (no default shapes)');
      assert.ok(state.stats.drawCalls > 0 && state.stats.drawCalls <= DRAW_CALLS_MAX, `draw calls ${state.stats.drawCalls}`);
      // A blank canvas is one colour; the factory has floors, machines, sky.
      assert.ok(state.pixels.varied > state.pixels.sampled * 0.2, `varied ${state.pixels.varied} of ${state.pixels.sampled}`);
      assert.ok(state.pixels.distinct > 30, `distinct colours ${state.pixels.distinct}`);
      // The token was taken from the URL once and kept.
      assert.ok(!state.search.includes('token'), state.search);
      assert.equal(state.stored, server.token);
      // A reload without the token in the URL still opens the world.
      await page.goto(`${server.base}/?world=factory`);
      await page.waitForFunction(() => window.__twinspace?.ready === true, null, { timeout: 30_000 });
      assert.equal(await page.evaluate(() => window.__twinspace.twinCount), DEMO_TWINS);
    });
  });

  test('clicking a machine shows its model, properties with units, and relationships', async () => {
    await withPage('select', async (page) => {
      await openDemo(page);
      // Fly to the machine, then click where it is drawn.
      await page.evaluate(() => window.__twinspace.focus('cnc3'));
      await page.waitForTimeout(900);
      const at = await page.evaluate(() => window.__twinspace.screenPosition('cnc3'));
      assert.ok(at, 'cnc3 is on screen');
      await page.mouse.click(at.x, at.y);
      await page.waitForFunction(() => window.__twinspace.selected !== null, null, { timeout: 5_000 });
      assert.equal(await page.evaluate(() => window.__twinspace.selected), 'cnc3');
      await page.locator('#panel-title', { hasText: 'CNC 3' }).waitFor({ timeout: 5_000 });
      const row = page.locator('tr[data-property="spindleTemperature"]');
      await row.waitFor();
      const text = await row.innerText();
      assert.match(text, /35/);
      assert.match(text, /°C/);
      assert.match(text, /updated/);
      assert.match(await page.locator('#panel .model').innerText(), /CNC/);
      // The spindle sensor observes it: the link goes there.
      const link = page.locator('#relationships button[data-goto="cnc3-spindle"]');
      await link.waitFor({ timeout: 5_000 });
      await link.click();
      await page.waitForFunction(() => window.__twinspace.selected === 'cnc3-spindle');
      await page.locator('#panel-title', { hasText: 'CNC 3 spindle temperature' }).waitFor();
    });
  });

  test('a REST PATCH shows in the panel within a second (live when the server has the live route)', async () => {
    await withPage('patch', async (page) => {
      await openDemo(page);
      // With the live endpoint the page must go live; without it, it polls.
      const probe = await fetch(`${server.base}/worlds/factory/live`, { headers: { Accept: 'application/json' } });
      const hasLive = !(probe.status === 404 && (await probe.json()).error?.code === 'RouteNotFound');
      const wanted = hasLive ? 'live' : 'polling';
      await page.waitForFunction((w) => window.__twinspace.source === w, wanted, { timeout: 15_000 });
      console.log(`the page is ${wanted}`);
      await page.evaluate(() => window.__twinspace.select('cnc2'));
      await page.locator('tr[data-property="spindleTemperature"]').waitFor();
      const value = 61.25;
      // The page notes when the value appears (a MutationObserver), so the figure
      // is the client's, not the test's polling of the page.
      await page.evaluate((text) => {
        window.__seenAt = null;
        new MutationObserver(() => {
          if (window.__seenAt === null && document.querySelector('tr[data-property="spindleTemperature"] .number')?.textContent === text) {
            window.__seenAt = Date.now();
          }
        }).observe(document.getElementById('panel'), { childList: true, subtree: true, characterData: true });
      }, '61.25');
      const sent = Date.now();
      await rest(server, 'PATCH', '/worlds/factory/digitaltwins/cnc2', [{ op: 'replace', path: '/spindleTemperature', value }]);
      // Counted from the acknowledgement: before it the change is not durable, and
      // no client may see it.
      const acknowledged = Date.now();
      await page.waitForFunction(() => window.__seenAt !== null, null, { timeout: 5_000 });
      const seenAt = await page.evaluate(() => window.__seenAt);
      const elapsed = seenAt - acknowledged;
      console.log(`patch acknowledged after ${acknowledged - sent} ms, visible in the panel ${elapsed} ms later`);
      assert.ok(elapsed < 1_000, `the change took ${elapsed} ms to show`);
    });
  });

  test('a value published over MQTT to the embedded broker shows in the panel', async (t) => {
    const mqtt = server.output().match(/mqtt listening on mqtt:\/\/([0-9.]+):(\d+)/);
    assert.ok(mqtt, `the demo prints its MQTT address:\n${server.output()}`);
    const [, host, port] = mqtt;
    const publish = (payload) =>
      new Promise((resolvePublish, reject) => {
        execFile('mosquitto_pub', ['-h', host, '-p', port, '-u', 'web-test', '-P', server.token, '-q', '1', '-t', 'twinspace/factory/cnc1', '-m', payload], (error, stdout, stderr) =>
          error ? reject(Object.assign(error, { stderr })) : resolvePublish(),
        );
      });
    try {
      await publish(JSON.stringify({ spindleTemperature: 40.5 }));
    } catch (error) {
      if (error.code === 'ENOENT' && process.env.CI !== 'true') {
        t.skip('mosquitto_pub is missing (scripts/test installs mosquitto-clients)');
        return;
      }
      throw error;
    }
    await withPage('mqtt', async (page) => {
      await openDemo(page);
      await page.evaluate(() => window.__twinspace.select('cnc1'));
      const cell = page.locator('tr[data-property="spindleTemperature"] .number');
      await cell.waitFor();
      await page.evaluate((text) => {
        window.__mqttSeenAt = null;
        new MutationObserver(() => {
          if (window.__mqttSeenAt === null && document.querySelector('tr[data-property="spindleTemperature"] .number')?.textContent === text) {
            window.__mqttSeenAt = Date.now();
          }
        }).observe(document.getElementById('panel'), { childList: true, subtree: true, characterData: true });
      }, '73.5');
      // mosquitto_pub returns once its QoS 1 PUBLISH is acknowledged, which the
      // broker does only when the value is durable; the panel follows live.
      await publish(JSON.stringify({ spindleTemperature: 73.5 }));
      const acknowledged = Date.now();
      await page.waitForFunction(() => window.__mqttSeenAt !== null, null, { timeout: 10_000 });
      const elapsed = (await page.evaluate(() => window.__mqttSeenAt)) - acknowledged;
      console.log(`MQTT value visible in the panel ${elapsed} ms after its PUBACK`);
      assert.ok(elapsed < 1_000, `the MQTT value took ${elapsed} ms to show`);
    });
  });

  test('colouring by state shows a legend with the fault first, and the tree marks it', async () => {
    await withPage('color-by', async (page) => {
      await openDemo(page);
      await rest(server, 'PATCH', '/worlds/factory/digitaltwins/cnc4', [{ op: 'replace', path: '/state', value: 'fault' }]);
      await page.selectOption('#color-select', 'state');
      await page.locator('#legend .entry.alarm', { hasText: 'fault' }).waitFor({ timeout: 5_000 });
      const entries = await page.locator('#legend .entry').allInnerTexts();
      assert.match(entries[0], /fault/, `the alarm comes first: ${entries}`);
      assert.ok(entries.some((e) => /running/.test(e)), String(entries));
      await page.locator('#tree button.alarm[data-twin="cnc4"]').waitFor();
      await page.selectOption('#color-select', 'spindleTemperature');
      const title = await page.locator('#legend .title').innerText();
      assert.match(title, /spindleTemperature \(°C\)/);
      await rest(server, 'PATCH', '/worlds/factory/digitaltwins/cnc4', [{ op: 'replace', path: '/state', value: 'running' }]);
    });
  });

  test('the search box filters the scene tree and Enter goes to the twin', async () => {
    await withPage('search', async (page) => {
      await openDemo(page);
      await page.fill('#search', 'robot 3');
      const rows = await page.locator('#tree button[data-twin]').evaluateAll((els) => els.map((e) => e.dataset.twin));
      assert.ok(rows.includes('line2-robot1') || rows.includes('line1-robot3'), String(rows));
      await page.fill('#search', 'outbound');
      await page.press('#search', 'Enter');
      await page.waitForFunction(() => window.__twinspace.selected === 'outbound');
    });
  });

  test('a bad token gets a clear message and a way to sign in', async () => {
    await withPage('bad-token', async (page) => {
      await page.goto(`${server.base}/?token=tsk_not_a_real_token&world=factory`);
      const error = page.locator('#login-error');
      await error.waitFor({ timeout: 10_000 });
      assert.match(await error.innerText(), /does not accept this access token/);
      assert.equal(await page.evaluate(() => localStorage.getItem('twinspace.token')), null, 'a refused token is not kept');
      // Signing in with the right one opens the world.
      await page.fill('#token-input', server.token);
      await page.click('#login button[type=submit]');
      await page.waitForFunction(() => window.__twinspace?.ready === true, null, { timeout: 30_000 });
    });
  });

  test('a missing world is named, with the worlds there are', async () => {
    await withPage('missing-world', async (page) => {
      await page.goto(`${server.base}/?token=${server.token}&world=no-such-world`);
      const card = page.locator('.card');
      await card.waitFor({ timeout: 10_000 });
      assert.match(await card.innerText(), /no world "no-such-world"/);
      await page.click('#world-list button[data-world="factory"]');
      await page.waitForFunction(() => window.__twinspace?.ready === true, null, { timeout: 30_000 });
    });
  });

  test('when the server goes away the page says so, and recovers by itself when it is back', async () => {
    // A server of its own: this test stops it.
    const own = await startServer();
    try {
      await withPage('server-gone', async (page) => {
        await page.goto(own.url);
        await page.waitForFunction(() => window.__twinspace?.ready === true, null, { timeout: 30_000 });
        await own.stop({ keepData: true });
        const banner = page.locator('#banner');
        await banner.waitFor({ timeout: 15_000 });
        assert.match(await banner.innerText(), /Cannot reach the Twinspace server|Lost the live connection to the Twinspace server/);
        await page.waitForFunction(() => window.__twinspace.source === 'offline', null, { timeout: 15_000 });
        // The same data directory and port: the demo token still works.
        const again = await startServer({ dataDir: own.dataDir, port: own.port });
        own.stop = again.stop;
        await banner.waitFor({ state: 'hidden', timeout: 20_000 });
        assert.notEqual(await page.evaluate(() => window.__twinspace.source), 'offline');
      });
    } finally {
      await own.stop();
    }
  });

  test('two browser contexts see each other: avatar with name and colour, head where the camera is, selection, chat', async () => {
    await withPage('others-a', async (a) => {
      await openDemo(a, 'Dana');
      await a.waitForFunction(() => window.__twinspace.source === 'live' && window.__twinspace.participantId !== '', null, { timeout: 15_000, polling: 200 });
      await withPage('others-b', async (b) => {
        await openDemo(b, 'Alice');
        await b.waitForFunction(() => window.__twinspace.source === 'live' && window.__twinspace.participantId !== '', null, { timeout: 15_000, polling: 200 });
        const bId = await b.evaluate(() => window.__twinspace.participantId);
        // Each sees the other, by name.
        await a.waitForFunction((id) => window.__twinspace.others().some((p) => p.id === id && p.name === 'Alice' && p.head), bId, { timeout: 5_000, polling: 200 });
        await b.waitForFunction(() => window.__twinspace.others().some((p) => p.name === 'Dana'), null, { timeout: 5_000, polling: 200 });
        await a.locator(`#people li[data-participant="${bId}"]`, { hasText: 'Alice' }).waitFor();
        // Alice flies to CNC 2 and selects it: Dana sees her head move there and her selection.
        await b.evaluate(() => {
          window.__twinspace.select('cnc2');
          window.__twinspace.focus('cnc2');
        });
        // The focus flight takes a moment (longer on a loaded machine): wait until
        // Alice's camera has stopped moving, then compare with what Dana sees.
        let head = await b.evaluate(() => window.__twinspace.cameraHead().position);
        for (let i = 0; i < 40; i++) {
          await b.waitForTimeout(250);
          const next = await b.evaluate(() => window.__twinspace.cameraHead().position);
          const moved = Math.hypot(next[0] - head[0], next[1] - head[1], next[2] - head[2]);
          head = next;
          if (moved < 0.01) break;
        }
        await a.waitForFunction(
          ([id, h]) => {
            const p = window.__twinspace.others().find((o) => o.id === id);
            return p && p.selected === 'cnc2' && p.head && Math.hypot(p.head[0] - h[0], p.head[1] - h[1], p.head[2] - h[2]) < 0.5;
          },
          [bId, head],
          { timeout: 10_000, polling: 200 },
        );
        // Presence goes out at most 30 times a second however fast the pointer moves.
        const sentBefore = await b.evaluate(() => window.__twinspace.presenceSent);
        const started = Date.now();
        // Bounded by count and time: under software GL each move waits for the page.
        for (let i = 0; i < 60 && Date.now() - started < 1_500; i += 1) await b.mouse.move(300 + (i % 40) * 10, 300 + (i % 7) * 10);
        await b.waitForTimeout(200);
        const elapsed = (Date.now() - started) / 1000;
        const sent = (await b.evaluate(() => window.__twinspace.presenceSent)) - sentBefore;
        console.log(`presence: ${sent} messages in ${elapsed.toFixed(2)} s of pointer moves`);
        assert.ok(sent >= 1 && sent <= Math.ceil(elapsed * 30) + 1, `${sent} presence messages in ${elapsed} s`);
        // Chat both ways.
        await b.fill('#chat-input', 'CNC 2 runs hot');
        await b.press('#chat-input', 'Enter');
        await a.locator('#chat-lines li', { hasText: 'CNC 2 runs hot' }).waitFor({ timeout: 15_000 });
        assert.match(await a.locator('#chat-lines li').last().innerText(), /Alice/);
        // Dana leaves: Alice no longer sees her.
      });
      await a.waitForFunction(() => window.__twinspace.others().length === 0, null, { timeout: 10_000, polling: 200 });
    });
  });

  test('WebXR: Enter VR / AR are hidden where the browser cannot run a session', async () => {
    await withPage('xr', async (page) => {
      await openDemo(page);
      await page.waitForFunction(() => window.__twinspace.xr() !== null);
      await page.waitForTimeout(300);
      const xr = await page.evaluate(() => window.__twinspace.xr());
      console.log(`navigator.xr ${xr.api ? 'present' : 'absent'}, immersive-vr ${xr.vr}, immersive-ar ${xr.ar}`);
      // Headless chromium has no headset: whatever it says, the buttons follow it.
      assert.equal(await page.locator('#enter-vr').isVisible(), xr.vr);
      assert.equal(await page.locator('#enter-ar').isVisible(), xr.ar);
      assert.equal(xr.presenting, false);
    });
  });

  test('a twin in an alarm state is outlined without colouring, and the outline goes when it clears', async () => {
    await withPage('alarm', async (page) => {
      await openDemo(page);
      await rest(server, 'PATCH', '/worlds/factory/digitaltwins/cnc5', [{ op: 'replace', path: '/state', value: 'fault' }]);
      await page.waitForFunction(() => window.__twinspace.alarms().includes('cnc5'), null, { timeout: 5_000 });
      await rest(server, 'PATCH', '/worlds/factory/digitaltwins/cnc5', [{ op: 'replace', path: '/state', value: 'running' }]);
      await page.waitForFunction(() => !window.__twinspace.alarms().includes('cnc5'), null, { timeout: 5_000 });
    });
  });

  test('notes pinned to a twin: created by one participant, seen and deleted by another', async (t) => {
    await withPage('notes', async (page) => {
      await openDemo(page, 'Noor');
      await page.waitForFunction(() => window.__twinspace.source === 'live' && window.__twinspace.role !== '', null, { timeout: 15_000 });
      await page.evaluate(() => window.__twinspace.select('cnc1'));
      await page.fill('#note-input', 'Check the coolant level');
      await page.click('#note-add');
      const outcome = await Promise.race([
        page.locator('#notes li', { hasText: 'Check the coolant level' }).waitFor({ timeout: 5_000 }).then(() => 'shown'),
        page.locator('#panel .error').waitFor({ timeout: 5_000 }).then(async () => page.locator('#panel .error').innerText()),
      ]);
      if (/not stored by this server/.test(outcome)) {
        console.log(`SKIPPED: the server does not store annotations yet (${outcome})`);
        t.skip('the server does not store annotations yet');
        return;
      }
      assert.equal(outcome, 'shown');
      await withPage('notes-b', async (other) => {
        await openDemo(other, 'Omar');
        await other.waitForFunction(() => window.__twinspace.notes().some((n) => n.twinId === 'cnc1' && n.text === 'Check the coolant level'), null, { timeout: 5_000 });
        await other.evaluate(() => window.__twinspace.select('cnc1'));
        await other.locator('#notes li .delete').first().click();
        await other.waitForFunction(() => !window.__twinspace.notes().some((n) => n.text === 'Check the coolant level'), null, { timeout: 5_000 });
      });
      await page.waitForFunction(() => window.__twinspace.notes().length === 0, null, { timeout: 5_000 });
      assert.equal(await page.locator('#notes li').count(), 0);
    });
  });

  test('the time slider shows an earlier value, says REPLAY, and goes back to live; the chart has the history', async (t) => {
    if (!(await hasHistory())) {
      console.log('SKIPPED: this server has no history API yet (GET /worlds/{w}/digitaltwins/{id}/history/fields is RouteNotFound)');
      t.skip('no history API on this server');
      return;
    }
    await withPage('time', async (page) => {
      await openDemo(page);
      await rest(server, 'PATCH', '/worlds/factory/digitaltwins/cnc2', [{ op: 'replace', path: '/spindleTemperature', value: 41.5 }]);
      await sleep(1_200);
      const earlier = new Date().toISOString();
      await sleep(1_200);
      await rest(server, 'PATCH', '/worlds/factory/digitaltwins/cnc2', [{ op: 'replace', path: '/spindleTemperature', value: 77.25 }]);
      await page.evaluate(() => window.__twinspace.select('cnc2'));
      const value = page.locator('tr[data-property="spindleTemperature"] .number');
      await page.waitForFunction(() => document.querySelector('tr[data-property="spindleTemperature"] .number')?.textContent === '77.25', null, { timeout: 5_000 });
      assert.equal(await page.locator('#time-badge').innerText(), 'LIVE');
      await page.evaluate((iso) => window.__twinspace.seek(iso), earlier);
      await page.waitForFunction(() => document.querySelector('tr[data-property="spindleTemperature"] .number')?.textContent === '41.5', null, { timeout: 5_000 });
      assert.match(await page.locator('#time-badge').innerText(), /REPLAY/);
      assert.match(await page.locator('#panel-as-at').innerText(), /As it was at/);
      assert.ok(Number(await page.locator('#time-slider').inputValue()) < 1000, 'the slider left "now"');
      // The chart of the same property has recorded values.
      await page.waitForFunction(() => (window.__twinspace.chart()?.filled ?? 0) > 0, null, { timeout: 10_000 });
      await page.click('#time-live');
      await page.waitForFunction(() => document.querySelector('tr[data-property="spindleTemperature"] .number')?.textContent === '77.25', null, { timeout: 5_000 });
      assert.equal(await page.locator('#time-badge').innerText(), 'LIVE');
      assert.equal(await value.innerText(), '77.25');
    });
  });

  test('the server answers the client at / with its content types, and the API keeps problem+json', async () => {
    const page = await fetch(`${server.base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await page.text();
    const bundle = html.match(/src="(\/assets\/[^"]+\.js)"/)?.[1];
    assert.ok(bundle, html);
    const js = await fetch(server.base + bundle);
    assert.match(js.headers.get('content-type'), /javascript/);
    assert.match(js.headers.get('cache-control'), /immutable/);
    const glb = await fetch(`${server.base}/glb/cnc.glb`);
    assert.equal(glb.headers.get('content-type'), 'model/gltf-binary');
    const route = await fetch(`${server.base}/w/factory`, { headers: { Accept: 'text/html' } });
    assert.match(route.headers.get('content-type'), /text\/html/);
    const api = await fetch(`${server.base}/nowhere`);
    assert.equal(api.status, 404);
    assert.equal((await api.json()).error.code, 'RouteNotFound');
  });
});
