// Browser test of the hookbr inspector, run by scripts/test.
//
// Starts `hookbr serve` (SQLite inbox, a command sink that fails while a flag file exists, the
// admin listener on loopback), sends a burst with `hookbr send` (processed, duplicate, forged,
// and one delivery that is dead-lettered), then drives Debian's headless Chromium through
// playwright-core: the list shows the rows and the rejection, the detail view shows the
// redacted body and the attempts, Replay completes the dead-lettered delivery, a customer's
// CPF and e-mail show masked on the detail page; the chart of the last hour draws both
// providers (its screenshot decoded and checked not blank), the Foody order's timeline and
// the Drift page render. Screenshots go
// to cargo's target directory (wherever cargo puts build outputs: CARGO_TARGET_DIR, ...; see
// scripts/target-dir), where `hookbr` is also looked for unless HOOKBR_BIN names it. Everything
// runs on 127.0.0.1 and is bounded in time.
//
//   cargo build -p hookbr-cli && node tests/browser/inspector.mjs

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, mkdirSync, existsSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { createServer } from 'node:net';
import { request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const target = targetDir();
const bin = resolve(root, process.env.HOOKBR_BIN ?? join(target, 'debug', 'hookbr'));
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const shots = target;
const deadline = setTimeout(() => fail('the browser test took more than 180 s'), 180_000);

let server;
let browser;
const dir = mkdtempSync(join(tmpdir(), 'hookbr-browser-'));

/** Cargo's target directory for this workspace, as scripts/target-dir reports it. */
function targetDir() {
  const out = spawnSync(join(root, 'scripts', 'target-dir'), { cwd: root, encoding: 'utf8', timeout: 60_000 });
  if (out.status !== 0 || !out.stdout.trim()) {
    console.error(`browser test FAILED: scripts/target-dir: ${out.error ?? out.stderr}`);
    process.exit(1);
  }
  return out.stdout.trim();
}

function fail(message) {
  console.error(`browser test FAILED: ${message}`);
  cleanup();
  process.exit(1);
}

function cleanup() {
  clearTimeout(deadline);
  if (server && server.exitCode === null) server.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

function hookbr(args, { allowFailure = false } = {}) {
  const result = spawnSync(bin, args, { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  if (!allowFailure && result.status !== 0) {
    throw new Error(`hookbr ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  }
  return result;
}

/** The status of GET / on 127.0.0.1:port sent with this Host header (fetch may not set it). */
function statusWithHost(port, host) {
  return new Promise((resolveStatus, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, path: '/', headers: { host } }, (response) => {
      response.resume();
      resolveStatus(response.statusCode);
    });
    request.on('error', reject);
    request.setTimeout(10_000, () => request.destroy(new Error('timed out')));
    request.end();
  });
}

async function until(what, probe, ms = 20_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function main() {
  check(existsSync(bin), `${bin} not found (cargo build -p hookbr-cli)`);
  const [port, adminPort] = [await freePort(), await freePort()];
  writeFileSync(join(dir, 'bonifiq.secret'), 'browser-test-bonifiq-secret');
  writeFileSync(join(dir, 'foody.token'), 'browser-test-foody-token-7f3a');
  const flag = join(dir, 'sink-down');
  const config = `
[server]
listen = "127.0.0.1:${port}"
[inbox]
url = "sqlite:inbox.sqlite3"
[worker]
max_attempts = 2
backoff = "100ms"
max_backoff = "200ms"
[admin]
listen = "127.0.0.1:${adminPort}"
[[endpoint]]
provider = "bonifiq"
path = "/webhooks/bonifiq"
secrets = ["file:bonifiq.secret"]
[[endpoint]]
provider = "foody"
path = "/webhooks/foody"
tokens = ["file:foody.token"]
[[sink]]
type = "command"
command = ["sh", "-c", "cat > /dev/null; if [ -e '${flag}' ]; then echo 'the app is down' >&2; exit 1; fi"]
`;
  writeFileSync(join(dir, 'hookbr.toml'), config);

  // The admin listener refuses a non-loopback address without a token (exit 2, names the key).
  writeFileSync(
    join(dir, 'open.toml'),
    config.replace(`listen = "127.0.0.1:${adminPort}"`, `listen = "0.0.0.0:${adminPort}"`),
  );
  const open = hookbr(['serve', '--check', '--config', 'open.toml'], { allowFailure: true });
  check(open.status === 2, `non-loopback admin without token: exit ${open.status}`);
  check(open.stderr.includes('admin.token'), `stderr names admin.token: ${open.stderr}`);

  server = spawn(bin, ['serve', '--config', 'hookbr.toml'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let serverLog = '';
  server.stderr.on('data', (chunk) => { serverLog += chunk; });
  await until('the receiver', async () => {
    try { return (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).ok; } catch { return false; }
  });

  const base = `http://127.0.0.1:${port}`;
  const bonifiq = ['send', 'bonifiq', `${base}/webhooks/bonifiq`, '--secret', 'file:bonifiq.secret'];
  hookbr([...bonifiq, '--fresh', '--repeat', '4', '--concurrency', '4']);
  hookbr([...bonifiq, '--repeat', '2']); // one processed, one duplicate
  const forged = hookbr([...bonifiq, '--tamper', 'signature'], { allowFailure: true });
  check(forged.status === 1, `forged delivery: exit ${forged.status}`);
  await until('the first deliveries to be done', () => stats().done === 5);
  writeFileSync(flag, 'down');
  hookbr(['send', 'foody', `${base}/webhooks/foody`, '--token', 'file:foody.token']);
  await until('a dead-lettered delivery', () => stats().dead === 1);
  unlinkSync(flag);

  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const violations = [];
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) violations.push(message.text());
  });
  const admin = `http://127.0.0.1:${adminPort}`;
  const first = await page.goto(`${admin}/`);
  const headers = first.headers();
  check(headers['content-security-policy']?.startsWith("default-src 'none'"), `CSP: ${headers['content-security-policy']}`);
  check(headers['x-frame-options'] === 'DENY', `X-Frame-Options: ${headers['x-frame-options']}`);
  // The stylesheet is allowed by its digest: it applies, and nothing the pages use is blocked.
  const thBackground = await page.locator('#deliveries th').first().evaluate((th) => getComputedStyle(th).backgroundColor);
  check(thBackground === 'rgb(244, 244, 244)', `the inline stylesheet applies under the CSP: ${thBackground}`);
  const rows = page.locator('#deliveries tr[data-id]');
  check((await rows.count()) === 6, `6 stored deliveries listed, saw ${await rows.count()}`);
  check((await page.locator('#deliveries tr[data-state="done"]').count()) === 5, '5 done rows');
  const dead = page.locator('#deliveries tr[data-state="dead"]');
  check((await dead.count()) === 1, 'one dead row');
  check((await dead.innerText()).includes('the app is down'), 'the dead row shows the last error');
  const recent = await page.locator('#recent').innerText();
  check(recent.includes('rejected') && recent.includes('invalid_secret'), `the rejection is listed: ${recent}`);
  check(recent.includes('duplicate'), 'the duplicate is listed');
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, 'inspector.png'), fullPage: true });

  // The pictures: the last hour as an SVG strip per provider sent, bars by outcome (the
  // forged BonifiQ delivery rejected, the Foody one's failed attempts), health beside it.
  const chart = page.locator('svg#activity');
  check((await chart.count()) === 1, 'the chart is on the deliveries page');
  check((await chart.getAttribute('role')) === 'img', 'the chart is an image for assistive technology');
  check((await chart.getAttribute('aria-label')).includes('bonifiq: 5 processed/stored, 1 duplicate, 1 rejected'),
    `the chart's label sums the hour: ${await chart.getAttribute('aria-label')}`);
  for (const provider of ['bonifiq', 'foody']) {
    const bars = await page.locator(`svg#activity g.strip[data-provider="${provider}"] rect.bar`).count();
    check(bars >= 1, `${provider} has bars on the chart, saw ${bars}`);
  }
  check((await page.locator('svg#activity g.strip').count()) === 2, 'one strip per provider sent');
  check((await page.locator('svg#activity rect.bar[data-outcome="rejected"]').count()) >= 1, 'the rejection is drawn');
  check((await page.locator('svg#activity rect.bar[data-outcome="handler_failed"]').count()) >= 1, 'the failed attempts are drawn');
  const box = await chart.boundingBox();
  check(box && box.width > 300 && box.height > 50, `the chart is laid out: ${JSON.stringify(box)}`);
  const health = await page.locator('#health tr[data-provider="bonifiq"]').innerText();
  check(/ago/.test(health) && /\d+ %/.test(health), `bonifiq health row: ${health}`);
  check((await page.locator('#oldest-pending').innerText()).includes('oldest pending'), 'oldest pending shown');
  const oldestFoody = await page.locator('#health tr[data-provider="foody"] td.oldest').innerText();
  check(oldestFoody !== 'n/a' && oldestFoody.length > 0, `inbox mode: foody's oldest pending from the inbox: ${oldestFoody}`);
  const png = await page.locator('section.pictures').screenshot({ path: join(shots, 'inspector-chart.png') });
  check(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'the screenshot is a PNG');
  check(png.length > 2_000 && png.length < 5_000_000, `the screenshot has a reasonable size: ${png.length} bytes`);
  // Decoded in a blank page (the inspector's CSP loads no image): not blank, and the
  // outcome colours are there.
  const probe = await browser.newPage();
  const pixels = await probe.evaluate(async (base64) => {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext('2d');
    context.drawImage(bitmap, 0, 0);
    const data = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
    const near = (i, [r, g, b]) => Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) < 30;
    let ink = 0; let green = 0; let red = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i] < 235 || data[i + 1] < 235 || data[i + 2] < 235) ink += 1;
      if (near(i, [0x00, 0x9e, 0x73])) green += 1;
      if (near(i, [0xd5, 0x5e, 0x00])) red += 1;
    }
    return { width: bitmap.width, height: bitmap.height, ink, green, red };
  }, png.toString('base64'));
  await probe.close();
  check(pixels.width > 300 && pixels.height > 50, `screenshot dimensions: ${JSON.stringify(pixels)}`);
  check(pixels.ink > pixels.width * pixels.height * 0.01, `the screenshot is not blank: ${JSON.stringify(pixels)}`);
  check(pixels.green > 0 && pixels.red > 0, `accepted and rejected bars are painted: ${JSON.stringify(pixels)}`);

  // Filters.
  await page.selectOption('#state', 'dead');
  await Promise.all([page.waitForURL(/[?&]state=dead/), page.click('form[action="/"] button')]);
  check((await page.locator('#deliveries tr[data-id]').count()) === 1, 'the dead filter shows one row');

  // The dead delivery's detail.
  await Promise.all([
    page.waitForURL(/\/deliveries\/\d+$/),
    page.locator('#deliveries tr[data-state="dead"] a').click(),
  ]);
  const body = await page.locator('#body').innerText();
  check(body.includes('"token": "[redacted]"'), `the Foody token is redacted: ${body}`);
  check(!body.includes('browser-test-foody-token'), 'the token never appears');
  check(!(await page.content()).includes('browser-test-foody-token'), 'the token is nowhere on the page');
  check((await page.locator('#decoding').innerText()).includes('order_status_updated'), 'decoded kind shown');
  const attempts = await page.locator('#attempts').innerText();
  check((attempts.match(/the app is down/g) ?? []).length === 2, `both failed attempts listed: ${attempts}`);
  check((await page.locator('#summary').innerText()).includes('file:'), 'matched key label shown');
  await page.screenshot({ path: join(shots, 'inspector-detail.png'), fullPage: true });

  // The Replay button posts a form and is redirected back to this page. A poll that starts
  // while that navigation is still under way fails with "not attached to an active page":
  // such a poll counts as "not yet" and the next one starts from a fresh navigation.
  const detail = page.url();
  await page.click('#replay');
  await until('the replayed delivery to be done', async () => {
    try {
      await page.goto(detail, { waitUntil: 'load' });
      return (await page.locator('#state').innerText({ timeout: 2_000 })) === 'done';
    } catch (error) {
      if (/not attached|interrupted|navigat/i.test(String(error))) return false;
      throw error;
    }
  });
  check(!(await page.locator('#replay').count()), 'no Replay button once done');

  // The Foody order's timeline, linked from its delivery, and the Drift page render.
  const entityHref = await page.locator('#entity').getAttribute('href');
  check(entityHref?.startsWith('/entities/foody.order/'), `the delivery links its order: ${entityHref}`);
  const timeline = await page.goto(`${admin}${entityHref}`, { waitUntil: 'load' });
  check(timeline.status() === 200, `entity timeline: ${timeline.status()}`);
  check((await page.locator('h1').innerText()).startsWith('Entity foody.order'), 'the timeline names the entity');
  check((await page.locator('#timeline tr[data-id]').count()) >= 1, 'the timeline lists the delivery');
  await page.screenshot({ path: join(shots, 'inspector-entity.png'), fullPage: true });
  const driftPage = await page.goto(`${admin}/drift`, { waitUntil: 'load' });
  check(driftPage.status() === 200, `drift page: ${driftPage.status()}`);
  check((await page.locator('h1').innerText()) === 'Drift', 'the Drift page renders');
  check((await page.locator('#drift, #no-drift').count()) === 1, 'the Drift page lists changes or says there are none');

  // A cross-site form post cannot replay.
  const cross = await fetch(`${admin}/deliveries/1/replay`, {
    method: 'POST', headers: { origin: 'http://evil.example' }, redirect: 'manual',
  });
  check(cross.status === 403, `cross-site replay refused, got ${cross.status}`);

  const blocked = violations.filter((text) => !text.includes('favicon'));
  check(blocked.length === 0, `nothing the pages use is blocked by the CSP: ${blocked.join(' | ')}`);

  // Without a token, a DNS-rebinding name that merely starts with 127. is refused.
  const rebound = await statusWithHost(adminPort, `127.evil.example:${adminPort}`);
  check(rebound === 421, `Host 127.evil.example refused, got ${rebound}`);

  const metrics = await (await fetch(`${admin}/metrics`)).text();
  check(/hookbr_dead_lettered_total\{provider="foody"\} 1/.test(metrics), 'dead_lettered counted');
  check(/hookbr_deliveries_rejected_total\{provider="bonifiq",reason="invalid_secret"\} 1/.test(metrics), 'rejection counted');
  check(/hookbr_inbox_depth\{state="dead"\} 0/.test(metrics), 'inbox depth gauge after replay');

  // Personal data: a customer's CPF, e-mail and phone show masked on the detail page; without
  // an admin token there is no reveal form, and a reveal is refused.
  writeFileSync(join(dir, 'customer.json'), JSON.stringify({
    Uuid: '4834c95e-84f7-485e-90de-09353df57fd3', Timestamp: '2024-03-01T13:16:11.396371',
    Topic: 0, TopicName: 'Point_Add',
    Payload: {
      Points: 200, PointType: 0, PointAction: 1, PointId: 4740,
      Customer: {
        Email: 'joao.silva@example.com', Id: '152740926', Name: 'Joao da Silva',
        Phone: '+55 (11) 98719-8778', Document: '529.982.247-25',
      },
    },
  }));
  hookbr([...bonifiq, '--file', 'customer.json']);
  await until('the customer delivery to be done', () => stats().done === 7);
  const listed = JSON.parse(hookbr(['inbox', 'list', '--json', '--config', 'hookbr.toml']).stdout);
  const customerId = Math.max(...listed.map((row) => row.id));
  await page.goto(`${admin}/deliveries/${customerId}`, { waitUntil: 'load' });
  const customerBody = await page.locator('#body').innerText();
  check(customerBody.includes('***.982.247-**'), `the CPF is shown masked: ${customerBody}`);
  check(customerBody.includes('j***@e***.com'), `the e-mail is shown masked: ${customerBody}`);
  const customerPage = await page.content();
  for (const raw of ['529.982.247-25', '52998224725', 'joao.silva@example.com', '98719-8778', 'Joao da Silva']) {
    check(!customerPage.includes(raw), `${raw} is nowhere on the detail page`);
  }
  // This server has no admin token: no reveal form, a note instead.
  check((await page.locator('form#reveal').count()) === 0, 'no reveal form without a token');
  check((await page.locator('#no-reveal').count()) === 1, 'the page says why nothing can be revealed');
  await page.screenshot({ path: join(shots, 'inspector-masked.png'), fullPage: true });
  const revealed = await fetch(`${admin}/deliveries/${customerId}/reveal`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'reason=test', redirect: 'manual',
  });
  check(revealed.status === 401, `reveal without an admin token refused, got ${revealed.status}`);
  check(!(await revealed.text()).includes('529.982.247-25'), 'a refused reveal shows nothing');

  check(!serverLog.includes('browser-test-'), 'no secret in the server log');
  console.log(`browser test passed: list, chart, health, filters, detail, entity timeline, drift, masking, replay, metrics; screenshots in ${shots}`);
}

function stats() {
  const out = hookbr(['inbox', 'stats', '--json', '--config', 'hookbr.toml']);
  return JSON.parse(out.stdout);
}

main()
  .then(async () => {
    await browser?.close();
    cleanup();
    process.exit(0);
  })
  .catch(async (error) => {
    await browser?.close().catch(() => {});
    fail(error.stack ?? String(error));
  });
