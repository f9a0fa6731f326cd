// A real browser attacks the sidecar: headless Chromium (Debian's `chromium`
// package, driven by playwright-core; no browser is ever downloaded) opens
// pages of other origins, served by this test, that try what any web page
// could on the operator's machine:
//   - form POSTs (text/plain: a JSON body in disguise) to /v1/command and
//     /v1/cycle, and to the TCP port (cross-protocol);
//   - fetch "no-cors" POSTs, and a JSON fetch (which needs a preflight);
//   - DNS rebinding: a page loaded from evil.example:PORT whose name:port
//     then reaches the sidecar (Chromium's --host-resolver-rules maps
//     evil.example to 127.0.0.1; the test's server on PORT closes and the
//     sidecar opens the same port, which is what a rebinding DNS answer
//     achieves), reading HEARTBEAT and sending a command same-origin.
// The sidecar's audit must show nothing ran, and nothing was learned.
import { describe, it, expect, afterEach } from 'vitest';
import http from 'node:http';
import { existsSync } from 'node:fs';
import { tmpDir } from '../helpers/tmp.js';
import { server } from '../helpers/server.js';
import { HttpClient } from '../../src/transport/client.js';
import { verifyLogFile } from '../../src/audit/log.js';
import type { RunningServer } from '../../src/server.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const CI = process.env.CI === 'true';
if (!HAVE_CHROMIUM && !CI) {
  console.warn(`SKIPPED test/integration/browser.test.ts: no Chromium at ${CHROMIUM}. Install it with \`apt-get install -y chromium\` (Debian), or set CHROMIUM_PATH.`);
}

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.reverse()) await c(); cleanups = []; });

/** A plain HTTP server of one page per path, on 127.0.0.1 and a free port. */
async function pageServer(pages: Record<string, string>): Promise<{ port: number; close: () => Promise<void> }> {
  const srv = http.createServer((req, res) => {
    const body = pages[(req.url ?? '/').split('?')[0]];
    if (body === undefined) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(body);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  return { port, close: () => new Promise<void>((r) => { srv.closeAllConnections(); srv.close(() => r()); }) };
}

const LOCKDOWN_FIELD = `'{"type":"EMERGENCY_LOCKDOWN","operator_id":"Op-01","reason":"' value='x"}'`;
const FORGED_CYCLE_FIELD = `'{"agent_id":"bot-1","state":{"health":0.9,"target_distance":1},"intent_taken":"EVADE","result":{"outcomes":{"is_alive":false,"damage_received":1}},"x":"' value='"}'`;

function attackPage(httpPort: number, tcpPort: number): string {
  const base = `http://127.0.0.1:${httpPort}`;
  return `<!doctype html><meta charset="utf-8"><title>a page of another origin</title>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe><iframe name="sink3"></iframe>
<form id="f1" method="POST" enctype="text/plain" target="sink1" action="${base}/v1/command"><input type="hidden" name=${LOCKDOWN_FIELD}></form>
<form id="f2" method="POST" enctype="text/plain" target="sink2" action="${base}/v1/cycle"><input type="hidden" name=${FORGED_CYCLE_FIELD}></form>
<form id="f3" method="POST" enctype="text/plain" target="sink3" action="http://127.0.0.1:${tcpPort}/"><input type="hidden" name=${LOCKDOWN_FIELD}></form>
<script>
window.results = {};
async function attempt(name, url, init) {
  try { const r = await fetch(url, init); window.results[name] = { type: r.type, status: r.status }; }
  catch (e) { window.results[name] = { error: String(e) }; }
}
document.getElementById('f1').submit();
document.getElementById('f2').submit();
document.getElementById('f3').submit();
window.done = Promise.all([
  attempt('nocors_register', '${base}/v1/command', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' },
    body: JSON.stringify({ type: 'REGISTER_MODEL', operator_id: 'Op-01', metadata: { version: 'EVIL-1' } }) }),
  attempt('nocors_cycle', '${base}/v1/cycle', { method: 'POST', mode: 'no-cors',
    body: JSON.stringify({ agent_id: 'bot-1', state: { health: 0.9, target_distance: 1 }, intent_taken: 'EVADE', result: { outcomes: { is_alive: false } } }) }),
  attempt('cors_json_lockdown', '${base}/v1/command', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'EMERGENCY_LOCKDOWN', operator_id: 'Op-01' }) }),
]).then(() => window.results);
</script>`;
}

const REBIND_PAGE = `<!doctype html><meta charset="utf-8"><title>rebinding</title>
<script>
// Runs once the name:port this page came from reaches the sidecar.
window.attack = async () => {
  const out = {};
  try { const r = await fetch('/v1/heartbeat'); out.heartbeat = { status: r.status, text: await r.text() }; } catch (e) { out.heartbeat = { error: String(e) }; }
  try {
    const r = await fetch('/v1/command', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'EMERGENCY_LOCKDOWN', operator_id: 'Op-01' }) });
    out.command = { status: r.status, text: await r.text() };
  } catch (e) { out.command = { error: String(e) }; }
  return out;
};
</script>`;

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function footprint(s: RunningServer) {
  const recs = (await verifyLogFile(s.sidecar.audit.path)).records;
  return {
    commands: recs.filter((r) => r.kind === 'COMMAND').length,
    lockdown: s.sidecar.control.state.lockdown.active,
    models: s.sidecar.registry.list().map((m) => m.metadata.version).sort(),
    cycles: s.sidecar.engine.stats.cycles,
    learningUpdates: s.sidecar.engine.stats.learningUpdates,
    candidateUpdates: (await s.sidecar.engine.snapshotCandidate())?.updates ?? null,
    quarantined: s.sidecar.quarantine.total,
    quarantinedByEngine: s.sidecar.engine.stats.quarantined,
  };
}

describe('a real browser', () => {
  // Skipped (with the line printed above) only outside CI; under CI=true a
  // missing Chromium fails this very test, so a CI run never shows it skipped.
  it.skipIf(!HAVE_CHROMIUM && !CI)('pages of other origins (forms, no-cors fetches, DNS rebinding) run nothing and teach nothing', { timeout: 120_000 }, async () => {
    expect(HAVE_CHROMIUM, `no Chromium at ${CHROMIUM}: CI must install it (apt-get install -y chromium; .ci/run does)`).toBe(true);
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true,
      // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
      args: ['--no-sandbox', '--host-resolver-rules=MAP evil.example 127.0.0.1'],
    });
    cleanups.push(() => browser.close());
    const ctx = await browser.newContext();

    // 1. The rebinding page loads from the attacker's server on port X...
    const rebinder = await pageServer({ '/rebind': REBIND_PAGE });
    const X = rebinder.port;
    const page2 = await ctx.newPage();
    await page2.goto(`http://evil.example:${X}/rebind`);
    await rebinder.close();

    // ...and the sidecar then answers on that port (as if evil.example now resolved to it).
    const t = tmpDir();
    const s = await server(t.dir, { httpPort: X });
    cleanups.push(t.cleanup, () => s.close());
    // A candidate that has served bot-1 once: a forged outcome for bot-1 would be learned.
    const h = new HttpClient('127.0.0.1', s.httpPort!);
    cleanups.push(() => h.close());
    expect((await h.command({ type: 'REGISTER_MODEL', operator_id: 'Op-01', metadata: { version: 'V1' } })).body.status).toBe('OK');
    expect((await h.command({ type: 'SET_CANDIDATE_MODEL', operator_id: 'Op-01', version: 'V1' })).body.status).toBe('OK');
    expect((await h.cycle({ agent_id: 'bot-1', state: { health: 0.9, target_distance: 1 } })).body.status).toBe('OK');
    const before = await footprint(s);

    // 2. A page of another origin: forms and fetches at the HTTP port, a form at the TCP port.
    const attacker = await pageServer({ '/': attackPage(s.httpPort!, s.tcpPort!) });
    cleanups.push(() => attacker.close());
    const page1 = await ctx.newPage();
    await page1.goto(`http://evil.example:${attacker.port}/`);
    const results = await page1.evaluate(() => (window as unknown as { done: Promise<Record<string, { type?: string; status?: number; error?: string }>> }).done);
    // Two forms, two no-cors fetches, one preflight: each reached the sidecar and was refused.
    await until(() => s.http!.guard.refused.E_ORIGIN >= 5, 'five E_ORIGIN refusals');
    await until(() => s.tcp!.stats.badFrames >= 1, 'the form POST at the TCP port');
    // A no-cors reply is opaque to the page; the preflighted JSON fetch never got permission.
    expect(results.nocors_register).toEqual({ type: 'opaque', status: 0 });
    expect(results.nocors_cycle).toEqual({ type: 'opaque', status: 0 });
    expect(results.cors_json_lockdown.error).toMatch(/TypeError/);

    // 3. The rebinding page, now same-origin with the sidecar, reads and writes.
    const rebound = await page2.evaluate(() => (window as unknown as { attack: () => Promise<Record<string, { status?: number; text?: string; error?: string }>> }).attack());
    expect(rebound.heartbeat.status).toBe(421);
    expect(JSON.parse(rebound.heartbeat.text!)).toMatchObject({ status: 'REJECTED', error: { code: 'E_HOST' } });
    expect(rebound.heartbeat.text).not.toContain('active_model');
    expect(rebound.command.status).toBe(421);
    expect(s.http!.guard.refused.E_HOST).toBeGreaterThanOrEqual(2);

    // Nothing ran, nothing was learned, nothing was quarantined.
    expect(await footprint(s)).toEqual(before);
    const recs = (await verifyLogFile(s.sidecar.audit.path)).records;
    expect(recs.filter((r) => r.kind === 'COMMAND').map((r) => (r.payload as { type: string }).type)).toEqual(['REGISTER_MODEL', 'SET_CANDIDATE_MODEL']);
    expect(JSON.stringify(recs)).not.toContain('EVIL-1');
    // The positive control: the same lockdown from a client that is not a web page runs.
    expect((await h.command({ type: 'EMERGENCY_LOCKDOWN', operator_id: 'Op-01' })).body.status).toBe('OK');
    expect(s.sidecar.control.state.lockdown.active).toBe(true);
  });
});
