// The load generator must never lock a healthy server by itself: the server
// answers a cycle whose timestamp is before its agent's previous one STOP and
// goes to TEMPORAL_LOCK (persisted). Stamps are made in order, so the danger
// is two cycles of one agent in flight at once on two connections (or two
// pooled HTTP sockets), or a --file replay re-sending its recorded stamps at
// each wrap. Each case below locked a fresh server before the fix (agent i %
// agents on connection i % connections; any pooled HTTP socket; recorded
// stamps as they stand). Real server processes, the real CLI, loopback.
import { describe, it, expect, afterEach } from 'vitest';
import { spawn, execFile } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { writeFileSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { TcpClient } from '../../src/transport/client.js';

const MAIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
let cleanups: Array<() => void> = [];
afterEach(() => { cleanups.reverse().forEach((c) => c()); cleanups = []; });

/**
 * A fresh server. Its batch budget is 2 s: on a busy 2-vCPU machine a batch
 * can miss the default 25 ms (INFERENCE_TIMEOUT, forced STOPs, SAFE_MODE),
 * which is not what is tested here. Nor are the window's survival and
 * violation alerts: with one to three agents the arena's violation rate
 * crosses the CONTRACT_BREACH line (0.1) by chance (SAFE_MODE, seen once in
 * CI), so they are off here.
 */
async function serveChild() {
  const t = tmpDir('shadowpath-lgorder-');
  cleanups.push(t.cleanup);
  const cfg = join(t.dir, 'config.json');
  writeFileSync(cfg, JSON.stringify({ engine: { batch_timeout_ms: 2000 }, failures: { alerts: { survival_critical: 0, violation_critical: 1 } } }));
  const srv = spawn(process.execPath, [MAIN, 'serve', '--data-dir', join(t.dir, 'data'), '--tcp-port', '0', '--http-port', '0', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(() => srv.kill('SIGKILL'));
  const info = JSON.parse(await new Promise<string>((r) => createInterface({ input: srv.stdout! }).once('line', r))) as { tcp_port: number; http_port: number };
  return { dir: t.dir, info, ports: ['--tcp-port', String(info.tcp_port), '--http-port', String(info.http_port)] };
}

function run(args: string[], timeout = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

/** The server's own word, over a separate connection: mode NORMAL, no failure, no incident. */
async function expectHealthy(tcpPort: number) {
  const c = await TcpClient.connect('127.0.0.1', tcpPort);
  try {
    const hb = await c.request({ type: 'HEARTBEAT' }) as { failure_status: { mode: string; last_failure: unknown; incident_count: number } };
    expect(hb.failure_status).toMatchObject({ mode: 'NORMAL', last_failure: null, incident_count: 0 });
  } finally { c.close(); }
}

/** A loadgen run that must end with every cycle answered OK, no forced STOP, the server NORMAL. */
async function loadgen(args: string[], expectSent: number) {
  const { info, ports } = await serveChild();
  const r = await run(['loadgen', ...args, ...ports, '--json']);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  const s = JSON.parse(r.stdout);
  expect(s).toMatchObject({ sent: expectSent, answered: expectSent, ok: expectSent, unanswered: 0, errors_by_code: {},
    forced_stops: {}, forced_stops_by_reason: {}, forced_stop_rate: 0,
    server_start: { mode: 'NORMAL', incident_count: 0 }, server_end: { mode: 'NORMAL', incident_count: 0, last_failure: null }, verdict: { ok: true } });
  // Every latency recorded (a lost sample once read p99 0).
  expect(s.latency_us.p99).toBeGreaterThan(0);
  expect(s.latency_us.p99).toBeLessThanOrEqual(s.latency_us.max);
  await expectHealthy(info.tcp_port);
  return s;
}

describe('loadgen: an agent\'s timestamps reach the server in order', () => {
  it('--agents 1 (4 connections): one agent, one cycle in flight', async () => {
    const s = await loadgen(['--agents', '1', '--rate', '1000', '--duration', '2'], 2000);
    expect(s.policy_sources.RULES).toBe(2000);
  }, 60_000);

  it('--agents 3 --connections 2 --rate 3000: agents not a multiple of connections', async () => {
    await loadgen(['--agents', '3', '--connections', '2', '--rate', '3000', '--duration', '1'], 3000);
  }, 60_000);

  it('--transport http --agents 2 --rate 2000: pooled sockets', async () => {
    await loadgen(['--transport', 'http', '--agents', '2', '--rate', '2000', '--duration', '1'], 2000);
  }, 60_000);

  it('--transport binary --agents 1', async () => {
    await loadgen(['--transport', 'binary', '--agents', '1', '--rate', '1000', '--duration', '2'], 2000);
  }, 60_000);

  it('--file of one agent that wraps 33 times: re-stamped, never back', async () => {
    const t = tmpDir('shadowpath-lgorder-file-');
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'rec.jsonl');
    const t0 = Date.now() / 1000;
    writeFileSync(file, [0, 0.01, 0.02].map((d) => JSON.stringify({ agent_id: 'rec-1', state: { timestamp: t0 + d } })).join('\n') + '\n');
    await loadgen(['--file', file, '--rate', '100', '--duration', '1'], 100);
  }, 60_000);
});

describe('demo: its agents never lock the server it starts', () => {
  it('demo --agents 3 (2 connections) --seconds 2 --no-promote ends NORMAL with no TIME_INTEGRITY incident', async () => {
    const t = tmpDir('shadowpath-lgorder-demo-');
    cleanups.push(t.cleanup);
    const cfg = join(t.dir, 'config.json');
    writeFileSync(cfg, JSON.stringify({ engine: { batch_timeout_ms: 2000 }, failures: { alerts: { survival_critical: 0, violation_critical: 1 } } }));
    const data = join(t.dir, 'data');
    const r = await run(['demo', '--data-dir', data, '--tcp-port', '0', '--http-port', '0', '--config', cfg, '--agents', '3', '--seconds', '2', '--no-promote']);
    // The rules policy serves (--no-promote) and may miss the checklist's
    // survival and violation bars in 2 s: the exit code is not the point here,
    // the failure mode is.
    expect(r.stdout).toMatch(/^demo done: [1-9]\d* cycles/m);
    expect(r.stdout).toMatch(/^(NOT )?healthy: /m);
    expect(r.stdout).not.toContain('the failure mode is');
    expect(r.stderr).toContain('shadowpath demo: serving');
    expect(r.stderr).not.toContain('FAILURE MODE');
    expect(r.stderr).not.toContain('incident');
    // The state file is written at the first change of the control state only
    // (with --no-promote there may be none: then no failure changed it either,
    // which the audit checks below show).
    const state = join(data, 'state');
    if (existsSync(state)) expect(JSON.parse(readFileSync(state, 'utf8')).failure.mode).toBe('NORMAL');
    const failures = join(data, 'failures');
    expect(existsSync(failures) ? readdirSync(failures).filter((f) => f.startsWith('incident_')) : []).toEqual([]);
    const audit = readFileSync(join(data, 'audit', 'audit.log'), 'utf8');
    expect(audit.length).toBeGreaterThan(0);
    expect(audit).not.toContain('TIME_INTEGRITY');
    expect(audit).not.toContain('TEMPORAL_LOCK');
  }, 60_000);
});
