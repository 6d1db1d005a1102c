// What the browser tests and the client benchmark share: starting the real
// `twinspace serve` binary (a temp data directory, a free 127.0.0.1 port, the
// built client in web/dist) and Debian's chromium through playwright-core.
// Nothing is downloaded: the browser is /usr/bin/chromium (or TWINSPACE_CHROMIUM).

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = resolve(WEB_DIR, '..');
export const RESULTS_DIR = join(WEB_DIR, 'test-results');

/** How long the server may take to print its URL (a debug build restoring a world). */
const SERVER_START_MS = 60_000;

/** The twinspace binary: TWINSPACE_BIN, else the newest of the release and debug builds. */
export function twinspaceBinary() {
  if (process.env.TWINSPACE_BIN) return process.env.TWINSPACE_BIN;
  const target = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(REPO, 'target');
  const candidates = ['release', 'debug']
    .map((profile) => join(target, profile, 'twinspace'))
    .filter((path) => existsSync(path))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (candidates.length === 0) {
    throw new Error(`no twinspace binary under ${target}; build it with \`cargo build -p twinspace\` or set TWINSPACE_BIN`);
  }
  return candidates[0];
}

async function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * Starts `twinspace serve --demo` and resolves once it prints its address and
 * the demo token: `{ base, token, url, stop }`, `url` being the page to open.
 */
export async function startServer({ demo = true, dataDir = null, port = null } = {}) {
  const dist = join(WEB_DIR, 'dist');
  if (!existsSync(join(dist, 'index.html'))) throw new Error(`the client is not built (${dist}); run \`npm run build\``);
  dataDir ??= mkdtempSync(join(tmpdir(), 'twinspace-web-'));
  port ??= await freePort();
  const args = ['serve', '--data-dir', dataDir, '--bind', `127.0.0.1:${port}`];
  // The demo's telemetry simulator would change the values the tests read.
  if (demo) args.push('--demo', '--demo-telemetry=false');
  const child = spawn(twinspaceBinary(), args, {
    env: { ...process.env, TWINSPACE_WEB_DIR: dist, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    // Kept (bounded) for the failure message.
    stderr = (stderr + chunk).slice(-8_000);
  });
  const started = await new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`twinspace did not print its URL within ${SERVER_START_MS / 1000} s:\n${output}\n${stderr}`)), SERVER_START_MS);
    const check = () => {
      const base = output.match(/listening on (https?:\/\/[^\s]+)/)?.[1];
      const token = output.match(/Bearer (tsk_[A-Za-z0-9_-]+)/)?.[1] ?? output.match(/admin token[^:]*: (tsk_[A-Za-z0-9_-]+)/)?.[1];
      if (base && (token || !demo)) {
        clearTimeout(timer);
        resolveStart({ base, token });
      }
    };
    child.stdout.on('data', (chunk) => {
      output += chunk;
      check();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`twinspace exited with ${code} before it was ready:\n${output}\n${stderr}`));
    });
  });
  /** Stops the server; `keepData` leaves its data directory for a restart. */
  const stop = async ({ keepData = false } = {}) => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    if (!keepData) rmSync(dataDir, { recursive: true, force: true });
  };
  return { ...started, dataDir, port, url: `${started.base}/?token=${started.token}&world=factory`, stop, output: () => output };
}

/** Debian's chromium, headless, with software WebGL (no GPU needed). */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.TWINSPACE_CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-background-networking',
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
      '--ignore-gpu-blocklist',
    ],
  });
}

/** Saves a screenshot under web/test-results (kept when a test fails). */
export async function keepScreenshot(page, name) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name.replace(/[^a-z0-9-]+/gi, '-')}.png`);
  await page.screenshot({ path }).catch(() => {});
  return path;
}

/** REST call against the test server. */
export async function rest(server, method, path, body) {
  const response = await fetch(server.base + path, {
    method,
    headers: { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}
