// The `shadowpath` command as a user runs it: real processes, real ports.
import { describe, it, expect, afterEach } from 'vitest';
import { spawn, execFile } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const MAIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
let cleanups: Array<() => void> = [];
afterEach(() => { cleanups.reverse().forEach((c) => c()); cleanups = []; });

/** `shadowpath serve` on `dir` with free ports; resolves with the process and its listening line. */
async function serveChild(dir: string) {
  const srv = spawn(process.execPath, [MAIN, 'serve', '--data-dir', dir, '--tcp-port', '0', '--http-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(() => srv.kill('SIGKILL'));
  const info = JSON.parse(await new Promise<string>((r) => createInterface({ input: srv.stdout! }).once('line', r))) as { tcp_port: number; http_port: number };
  return { srv, info };
}

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('shadowpath CLI', () => {
  it('serve, cmd, heartbeat, loadgen, clean SIGTERM, audit verify', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const { srv, info } = await serveChild(t.dir);
    const port = ['--tcp-port', String(info.tcp_port)];
    const hb = await run(['heartbeat', ...port]);
    expect(hb.code).toBe(0);
    expect(JSON.parse(hb.stdout)).toMatchObject({ status: 'OK', type: 'HEARTBEAT' });
    const reg = await run(['cmd', 'REGISTER_MODEL', 'metadata.version=V1', '--operator', 'Op-01', ...port]);
    expect(reg.code).toBe(0);
    expect(JSON.parse(reg.stdout)).toMatchObject({ status: 'OK', version: 'V1' });
    const lock = await run(['cmd', 'EMERGENCY_LOCKDOWN', 'reason=drill', '--operator', 'Op-01', ...port]);
    expect(lock.code).toBe(0);
    // Two-step without a terminal and without --yes: refused, nothing done.
    const rel = await run(['cmd', 'UNRELEASE_LOCKDOWN', '--operator', 'Op-01', ...port]);
    expect(rel.code).toBe(1);
    expect(rel.stderr).toContain('--yes');
    const rel2 = await run(['cmd', 'UNRELEASE_LOCKDOWN', '--operator', 'Op-01', '--yes', ...port]);
    expect(rel2.code).toBe(0);
    expect(JSON.parse(rel2.stdout)).toMatchObject({ status: 'OK' });
    const lg = await run(['loadgen', '--rate', '500', '--duration', '1', '--json', ...port]);
    expect(lg.code).toBe(0);
    expect(JSON.parse(lg.stdout)).toMatchObject({ sent: 500, answered: 500, ok: 500, unanswered: 0 });
    const bad = await run(['cmd', 'SET_CANARY_RATIO', 'ratio=7', ...port]);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ status: 'ERROR', error: { code: 'E_BAD_COMMAND' } });
    const exit = new Promise<number | null>((r) => srv.once('exit', (c) => r(c)));
    srv.kill('SIGTERM');
    expect(await exit).toBe(0);
    const ok = await run(['audit', 'verify', '--data-dir', t.dir]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/intact: \d+ records/);
    const path = join(t.dir, 'audit', 'audit.log');
    const lines = readFileSync(path, 'utf8').split('\n');
    lines[3] = lines[3].replace('"OK"', '"KO"');
    writeFileSync(path, lines.join('\n'));
    const broken = await run(['audit', 'verify', '--data-dir', t.dir, '--json']);
    expect(broken.code).toBe(1);
    expect(JSON.parse(broken.stdout)).toMatchObject({ verified: false, first_bad: { index: 3, seq: 4 } });
  });

  it('answers errors in one line with a non-zero exit', async () => {
    const r = await run(['heartbeat', '--tcp-port', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('cannot reach shadowpath');
    expect((await run(['nope'])).code).toBe(2);
    expect((await run(['loadgen', '--transport', 'carrier-pigeon'])).stderr).toContain('--transport must be');
    const help = await run(['serve', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--data-dir');
  });
});

describe('incident investigation and the health checklist, end to end', () => {
  it('fault → non-NORMAL failure_status → incident file → its audit_hash in the log → replay → two-step reset; health and metrics', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const { srv, info } = await serveChild(t.dir);
    const port = ['--tcp-port', String(info.tcp_port)];
    const { TcpClient } = await import('../../src/transport/client.js');
    const c = await TcpClient.connect('127.0.0.1', info.tcp_port);
    cleanups.push(() => c.close());
    // Healthy traffic with outcomes, one malformed outcome (quarantined), then time going backwards.
    const now = Date.now() / 1000;
    let last = await c.request({ agent_id: 'bot-1', state: { health: 1, timestamp: now } });
    for (let i = 1; i <= 200; i++) last = await c.request({ agent_id: 'bot-1', state: { health: 1, target_distance: 50, timestamp: now + i * 0.05 }, intent_taken: i === 7 ? 'FLY' : last.intent, result: { outcomes: { is_alive: true } } });
    // Back in time (before the last state, now + 10 s) but not stale: the wall clock now.
    const fault = await c.request({ agent_id: 'bot-1', state: { health: 1, timestamp: Date.now() / 1000 } });
    expect(fault).toMatchObject({ intent: 'STOP', fallback_reason: 'TIME_INTEGRITY_VIOLATION' });
    // The mode, last_failure and incident_count change at once; the incident
    // file follows, and HEARTBEAT says incident_pending until it is on disk.
    const hb = await waitFor('the TIME_INTEGRITY_VIOLATION incident on disk', async () => {
      const h = await c.request({ type: 'HEARTBEAT' });
      return (h as any).failure_status?.incident_count >= 1 && (h as any).failure_status.incident_pending === false ? h : undefined;
    });
    expect((hb as any).failure_status).toMatchObject({ mode: 'TEMPORAL_LOCK', incident_count: 1, last_failure: { type: 'TIME_INTEGRITY_VIOLATION' } });
    // The incident file, and its audit record.
    const list = await c.request({ type: 'LIST_INCIDENTS', operator_id: 'Op-01' });
    const inc = (list as any).incidents.find((i: any) => i.type === 'TIME_INTEGRITY_VIOLATION');
    const file = join(t.dir, 'failures', `incident_${inc.incident_id}.json`);
    const report = JSON.parse(readFileSync(file, 'utf8'));
    expect(report).toMatchObject({ incident_id: inc.incident_id, type: 'TIME_INTEGRITY_VIOLATION', mode: 'TEMPORAL_LOCK', state_snapshot: { sha256: expect.any(String) } });
    const log = readFileSync(join(t.dir, 'audit', 'audit.log'), 'utf8');
    expect(log).toContain(`"hash":"${report.audit_hash}"`);
    // Replay offline, no server needed.
    const rep = await run(['replay', file]);
    expect(rep.code, rep.stdout + rep.stderr).toBe(0);
    expect(rep.stdout).toContain('MATCH');
    // The checklist: FAIL is not expected here (survival 1, no violations), the quarantine is not empty (WARN).
    const health = await run(['health', '--expect-model', 'none-such', ...port]);
    expect(health.code).toBe(1); // the active-model check fails
    expect(health.stdout).toMatch(/PASS\s+Survival rate > 0.9/);
    expect(health.stdout).toMatch(/PASS\s+Violation rate < 0.01/);
    expect(health.stdout).toMatch(/FAIL\s+Active model matches expectations/);
    expect(health.stdout).toMatch(/WARN\s+Quarantine inspected\s+1 blocked: UNKNOWN_INTENT 1/);
    // The latency line is there with its figure; whether it passes is the
    // machine's business, not this test's (the bench measures latency).
    expect(health.stdout).toMatch(/(PASS|FAIL)\s+Latency p99 < 50 ms\s+[\d.]+ ms over the last \d+ cycles/);
    const h2 = await fetch(`http://127.0.0.1:${info.http_port}/v1/health`);
    expect(((await h2.json()) as any).checks).toHaveLength(5);
    const metrics = await (await fetch(`http://127.0.0.1:${info.http_port}/metrics`)).text();
    for (const m of ['shadowpath_cycles_total', 'shadowpath_intents_total{intent="STOP"}', 'shadowpath_cycle_latency_seconds_bucket', 'shadowpath_survival_rate',
      'shadowpath_violation_rate', 'shadowpath_failure_mode{mode="TEMPORAL_LOCK"} 1', 'shadowpath_lockdown 0', 'shadowpath_canary_ratio', 'shadowpath_quarantined_total',
      'shadowpath_audit_length', 'shadowpath_learning_updates_total']) expect(metrics).toContain(m);
    // Two-step reset.
    const reset = await run(['cmd', 'RESET_FAILURE_STATUS', '--operator', 'Op-01', '--yes', ...port]);
    expect(reset.code).toBe(0);
    expect(((await c.request({ type: 'HEARTBEAT' })) as any).failure_status.mode).toBe('NORMAL');
    // The quarantine, offline.
    srv.kill('SIGTERM');
    await new Promise((r) => srv.once('exit', r));
    const ls = await run(['quarantine', 'ls', '--data-dir', t.dir]);
    expect(ls.stdout).toMatch(/1 quarantined: UNKNOWN_INTENT 1/);
    const id = /\s(\d+:\d+)\s/.exec(ls.stdout)![1];
    const show = await run(['quarantine', 'show', id, '--data-dir', t.dir]);
    expect(JSON.parse(show.stdout)).toMatchObject({ id, reason: 'UNKNOWN_INTENT', agent_id: 'bot-1', intent_taken: 'FLY' });
  });
});
