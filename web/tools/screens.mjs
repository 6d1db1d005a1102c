// Takes screenshots of the client's views against a fresh demo server, for a
// person to look at: the factory overview, a selected machine, colour-by-state
// with an alarm, a close-up, the sign-in card after a bad token.
//
//   node tools/screens.mjs OUT_DIR      (after `npm run build` and a twinspace build)

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser, rest, startServer } from '../tests/harness.mjs';

const out = process.argv[2];
if (!out) {
  console.error('usage: node tools/screens.mjs OUT_DIR');
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const server = await startServer();
const browser = await launchBrowser();
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on('pageerror', (e) => console.error('page error:', e));
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.error('console:', m.text()); });
  await page.goto(`${server.url}&name=Dana`);
  await page.waitForFunction(() => window.__twinspace?.ready === true, null, { timeout: 60_000 });
  await page.waitForTimeout(500);
  const shot = async (name) => {
    const path = join(out, `${name}.png`);
    await page.screenshot({ path });
    console.log(path);
  };
  await shot('1-overview');
  await page.evaluate(() => { window.__twinspace.select('cnc3'); window.__twinspace.focus('cnc3'); });
  await page.waitForTimeout(1200);
  const at = await page.evaluate(() => window.__twinspace.screenPosition('cnc4'));
  if (at) await page.mouse.move(at.x, at.y);
  await page.waitForTimeout(300);
  await shot('2-selected-cnc');
  await rest(server, 'PATCH', '/worlds/factory/digitaltwins/cnc4', [{ op: 'replace', path: '/state', value: 'fault' }]);
  await rest(server, 'PATCH', '/worlds/factory/digitaltwins/line1-conveyor3', [{ op: 'replace', path: '/state', value: 'idle' }]);
  await rest(server, 'PATCH', '/worlds/factory/digitaltwins/line2-robot2', [{ op: 'replace', path: '/state', value: 'maintenance' }]);
  await page.evaluate(() => { window.__twinspace.select(null); });
  await page.waitForTimeout(2500);
  await page.selectOption('#color-select', 'state');
  await page.evaluate(() => window.__twinspace.focus('assembly'));
  await page.waitForTimeout(1200);
  await shot('3-color-by-state');
  await page.selectOption('#color-select', 'power');
  await page.waitForTimeout(300);
  await shot('4-color-by-power');
  await page.selectOption('#color-select', '');
  await page.evaluate(() => { window.__twinspace.select('line1-robot2'); window.__twinspace.focus('line1-robot2'); });
  await page.waitForTimeout(1200);
  await shot('5-robot-close-up');
  // A second participant: her avatar, pointer and selection, a chat line and a note.
  const other = await (await browser.newContext({ viewport: { width: 1200, height: 800 } })).newPage();
  other.on('pageerror', (e) => console.error('other page error:', e));
  await other.goto(`${server.url}&name=Alice`);
  await other.waitForFunction(() => window.__twinspace?.ready === true, null, { timeout: 60_000, polling: 250 }).catch(async (e) => {
    console.error(await other.evaluate(() => ({ source: window.__twinspace?.source, error: window.__twinspace?.lastError, body: document.body.innerText.slice(0, 400) })));
    throw e;
  });
  await other.waitForFunction(() => window.__twinspace.participantId !== '', null, { timeout: 20_000, polling: 250 });
  await other.evaluate(() => { window.__twinspace.select('cnc2'); window.__twinspace.focus('cnc2'); });
  await other.waitForTimeout(1200);
  const p2 = await other.evaluate(() => window.__twinspace.screenPosition('cnc2'));
  if (p2) await other.mouse.move(p2.x, p2.y);
  await other.fill('#chat-input', 'CNC 2 spindle looks warm, can someone check?');
  await other.press('#chat-input', 'Enter');
  await other.fill('#note-input', 'Coolant pump replaced 23 Nov; watch temperature');
  await other.click('#note-add');
  await other.waitForTimeout(800);
  await page.evaluate(() => { window.__twinspace.select('cnc2'); });
  await page.evaluate(() => window.__twinspace.focus('cnc1'));
  await page.waitForTimeout(1500);
  await shot('7-others-chat-note');
  await rest(server, 'PATCH', '/worlds/factory/digitaltwins/cnc4', [{ op: 'replace', path: '/state', value: 'fault' }]);
  // A recorded past for the history chart: the spindle heating up before the fault.
  for (const [i, t] of [38, 41, 45, 52, 61, 70, 78, 83].entries()) {
    await rest(server, 'PATCH', '/worlds/factory/digitaltwins/cnc4', [{ op: 'replace', path: '/spindleTemperature', value: t + (i % 2) * 0.5 }]);
    await page.waitForTimeout(250);
  }
  await page.evaluate(() => { window.__twinspace.select('cnc4'); window.__twinspace.focus('cnc4'); });
  await page.click('tr[data-property="spindleTemperature"]');
  await page.click('#history button:text("5 min")').catch(() => {});
  await page.waitForTimeout(1500);
  await shot('8-alarm-outline-history');
  const before = new Date(Date.now() - 20_000).toISOString();
  await page.evaluate((iso) => window.__twinspace.seek(iso), before);
  await page.waitForTimeout(1500);
  await shot('9-replay');
  await page.evaluate(() => window.__twinspace.goLive());
  const login = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await login.goto(`${server.base}/?token=tsk_wrong&world=factory`);
  await login.waitForSelector('#login-error');
  await login.screenshot({ path: join(out, '6-bad-token.png') });
  console.log(join(out, '6-bad-token.png'));
} finally {
  await browser.close();
  await server.stop();
}
