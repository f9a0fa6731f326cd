// Structured logs: a real `shadowpath serve` child's stdout, line by line,
// and the events that are hard to provoke in a child (worker replacement,
// alerts) in-process with the same logger writing to memory.
import { describe, it, expect, afterEach } from 'vitest';
import { spawn, execSync } from 'node:child_process';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '../helpers/tmp.js';
import { openSidecar } from '../helpers/sidecar.js';
import { TcpClient, HttpClient } from '../../src/transport/client.js';
import { createLog } from '../../src/log.js';

const MAIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.reverse()) await c(); cleanups = []; });

type Line = Record<string, any>;
const until = async (cond: () => boolean, ms = 10_000) => {
  const t0 = Date.now();
  while (!cond() && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 20));
  return cond();
};

/** A logger writing to memory (the same pino logger `serve` uses, another destination). */
async function memoryLog(level = 'info') {
  const lines: string[] = [];
  const log = await createLog({ level, destination: { write: (s: string) => { lines.push(...s.split('\n').filter(Boolean)); } } });
  return { log, lines, events: () => lines.map((l) => JSON.parse(l) as Line) };
}

describe('structured logs of `shadowpath serve`', () => {
  it('are JSON lines: start, commands with audit_seq, mode changes, incidents with their path, FLOOD, stop; never a secret or a token', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const SECRET = 'hunter2-op-secret-' + 'x'.repeat(12);
    const ADMIN_SECRET = 'admin-secret-' + 'y'.repeat(16);
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    const opsFile = join(t.dir, 'operators.json');
    writeFileSync(opsFile, JSON.stringify([{ id: 'Op-01', role: 'operator', secret_sha256: sha(SECRET) }, { id: 'Adm-01', role: 'admin', secret_sha256: sha(ADMIN_SECRET) }]));
    const cfg = join(t.dir, 'config.json');
    writeFileSync(cfg, JSON.stringify({ max_cycles_per_s: 50, failures: { incident_min_interval_s: 0 } }));
    const data = join(t.dir, 'data');
    const srv = spawn(process.execPath, [MAIN, 'serve', '--data-dir', data, '--tcp-port', '0', '--http-port', '0', '--operators', opsFile, '--config', cfg],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(() => { srv.kill('SIGKILL'); });
    const raw: string[] = [];
    createInterface({ input: srv.stdout! }).on('line', (l) => raw.push(l));
    expect(await until(() => raw.length > 0)).toBe(true);
    const start = JSON.parse(raw[0]) as Line;
    expect(start).toMatchObject({ event: 'start', level: 30, tcp_port: expect.any(Number), http_port: expect.any(Number), failure_mode: 'NORMAL' });

    const c = await TcpClient.connect('127.0.0.1', start.tcp_port);
    cleanups.push(() => c.close());
    const replies: Line[] = [];
    const send = async (req: Record<string, unknown>) => { const r = await c.request(req); replies.push(r); return r; };
    await send({ type: 'REGISTER_MODEL', operator_id: 'Op-01', auth: SECRET, metadata: { version: 'V1' } });
    await send({ type: 'SET_CANDIDATE_MODEL', operator_id: 'Op-01', auth: 'wrong-' + SECRET, version: 'V1' }); // E_AUTH
    await send({ type: 'EMERGENCY_LOCKDOWN', operator_id: 'Op-01', auth: SECRET, reason: 'drill' });
    const first = await send({ type: 'UNRELEASE_LOCKDOWN', operator_id: 'Adm-01', auth: ADMIN_SECRET });
    expect(first.status).toBe('REQUIRED_CONFIRMATION');
    const token = first.confirmation_token as string;
    expect(await send({ type: 'UNRELEASE_LOCKDOWN', operator_id: 'Adm-01', auth: ADMIN_SECRET, confirmation_token: token })).toMatchObject({ status: 'OK' });
    const http = new HttpClient('127.0.0.1', start.http_port);
    cleanups.push(() => http.close());
    const viaHttp = await http.command({ type: 'LIST_MODELS', operator_id: 'Op-01' }, SECRET); // bearer secret
    expect(viaHttp.body).toMatchObject({ status: 'OK' });
    replies.push(viaHttp.body);
    // Time going back: TEMPORAL_LOCK and an incident.
    const now = Date.now() / 1000;
    await send({ agent_id: 'bot-1', state: { health: 1, timestamp: now } });
    expect(await send({ agent_id: 'bot-1', state: { health: 1, timestamp: now - 1 } })).toMatchObject({ fallback_reason: 'TIME_INTEGRITY_VIOLATION' });
    // Over the rate limit (50/s): some cycles shed.
    const burst = await Promise.all(Array.from({ length: 200 }, (_, i) => c.request({ agent_id: `f-${i}`, state: { health: 1 } })));
    expect(burst.some((r) => (r as Line).error?.code === 'E_FLOOD')).toBe(true);

    const events = () => raw.map((l) => JSON.parse(l) as Line);
    expect(await until(() => events().some((e) => e.event === 'incident' && e.type === 'TIME_INTEGRITY_VIOLATION'))).toBe(true);
    const exit = new Promise<number | null>((r) => srv.once('exit', (code) => r(code)));
    srv.kill('SIGTERM');
    expect(await exit).toBe(0);

    // Every line is one JSON object with a level and a time.
    expect(raw.length).toBeGreaterThan(8);
    const all = events();
    for (const e of all) expect(e).toMatchObject({ level: expect.any(Number), time: expect.any(String), event: expect.any(String) });
    const of = (name: string) => all.filter((e) => e.event === name);
    // Commands: one line per command, with the reply's audit_seq; refusals at warn (40).
    const commands = of('command');
    expect(commands.map((e) => e.type)).toEqual(['REGISTER_MODEL', 'SET_CANDIDATE_MODEL', 'EMERGENCY_LOCKDOWN', 'UNRELEASE_LOCKDOWN', 'UNRELEASE_LOCKDOWN', 'LIST_MODELS']);
    const cmdReplies = replies.filter((r) => r.audit_seq !== undefined);
    expect(commands.map((e) => e.audit_seq)).toEqual(cmdReplies.map((r) => r.audit_seq));
    expect(commands[1]).toMatchObject({ status: 'REJECTED', code: 'E_AUTH', operator_id: 'Op-01', level: 40 });
    expect(commands[3]).toMatchObject({ status: 'REQUIRED_CONFIRMATION', step: 'request', operator_id: 'Adm-01' });
    expect(commands[4]).toMatchObject({ status: 'OK', step: 'confirm' });
    // Mode changes, in order.
    expect(of('mode_change').map((e) => `${e.from}->${e.to}`)).toEqual(['NORMAL->LOCKDOWN', 'LOCKDOWN->NORMAL', 'NORMAL->TEMPORAL_LOCK']);
    // The incident, with the path of its report (which exists).
    const inc = of('incident').find((e) => e.type === 'TIME_INTEGRITY_VIOLATION')!;
    expect(inc.path).toBe(join(data, 'failures', `incident_${inc.incident_id}.json`));
    expect(existsSync(inc.path)).toBe(true);
    // FLOOD: summarised, not one line per shed cycle.
    const floods = of('flood');
    expect(floods.length).toBeGreaterThanOrEqual(1);
    expect(floods.length).toBeLessThanOrEqual(2);
    expect(of('stop')).toMatchObject([{ reason: 'SIGTERM' }]);
    // No per-cycle lines at the default level.
    expect(all.some((e) => e.agent_id !== undefined || e.cycle_id !== undefined)).toBe(false);
    // No secret, no hash of one, no token.
    const text = raw.join('\n');
    for (const s of [SECRET, ADMIN_SECRET, sha(SECRET), sha(ADMIN_SECRET), token]) expect(text).not.toContain(s);
    expect(text).toContain('Adm-01'); // the positive control: operators are named
  }, 60_000);
});

describe('`shadowpath serve` start: what stdout says', () => {
  /** Runs `serve` in `cwd`: its stdout lines as they come, its stderr, its exit. */
  async function serveLines(args: string[], cwd: string) {
    const srv = spawn(process.execPath, [MAIN, 'serve', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(() => { srv.kill('SIGKILL'); });
    const lines: Line[] = [];
    let stderr = '';
    srv.stderr!.on('data', (d) => { stderr += d; });
    createInterface({ input: srv.stdout! }).on('line', (l) => lines.push(JSON.parse(l) as Line));
    const exit = new Promise<number | null>((r) => srv.once('exit', (code) => r(code)));
    return { srv, lines, exit, stderr: () => stderr };
  }

  it('a failed start (the TCP port is in use) is a fatal start_failed JSON line on stdout, and the exit status is 1', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => holder.close(() => r())));
    const port = (holder.address() as net.AddressInfo).port;
    const run = await serveLines(['--data-dir', join(t.dir, 'data'), '--tcp-port', String(port), '--http-port', '0'], t.dir);
    expect(await run.exit).toBe(1);
    expect(run.stderr()).toContain('EADDRINUSE');
    expect(run.lines.map((l) => l.event)).toEqual(['start_failed']);
    expect(run.lines[0]).toMatchObject({ level: 60, code: 'EADDRINUSE', tcp_port: port, data_dir: join(t.dir, 'data'), message: expect.stringContaining(String(port)) });
  }, 30_000);

  it('a relative --data-dir is made absolute: the start line and an incident path name the file wherever they are read', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const run = await serveLines(['--data-dir', 'rel-data', '--tcp-port', '0', '--http-port', '0'], t.dir);
    expect(await until(() => run.lines.length > 0)).toBe(true);
    const data = join(t.dir, 'rel-data');
    expect(run.lines[0]).toMatchObject({ event: 'start', data_dir: data });
    const c = await TcpClient.connect('127.0.0.1', run.lines[0].tcp_port);
    cleanups.push(() => c.close());
    const now = Date.now() / 1000;
    await c.request({ agent_id: 'bot-1', state: { health: 1, timestamp: now } });
    expect(await c.request({ agent_id: 'bot-1', state: { health: 1, timestamp: now - 1 } })).toMatchObject({ fallback_reason: 'TIME_INTEGRITY_VIOLATION' });
    expect(await until(() => run.lines.some((e) => e.event === 'incident'))).toBe(true);
    const inc = run.lines.find((e) => e.event === 'incident')!;
    expect(inc.path).toBe(join(data, 'failures', `incident_${inc.incident_id}.json`));
    expect(existsSync(inc.path)).toBe(true);
  }, 30_000);
});

describe('structured logs, in-process', () => {
  it('logs a kernel worker replacement', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const m = await memoryLog();
    const s = await openSidecar(t.dir, { log: m.log, allowFaultInjection: true, config: { engine: { pool_threads: 1, pool_steal_us: 0 } } });
    cleanups.push(() => s.close());
    await s.engine.pool.warm();
    expect(await s.handle({ agent_id: 'a', state: { health: 1 }, __fault: 'exit' })).toMatchObject({ intent: 'STOP', fallback_reason: 'WORKER_CRASH' });
    expect(await until(() => m.events().some((e) => e.event === 'worker_replaced'))).toBe(true);
    expect(m.events().find((e) => e.event === 'worker_replaced')).toMatchObject({ level: 40, lane: 0, restarts: 1 });
  });

  it('logs alert transitions (OK -> WARNING) from the sliding window', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const m = await memoryLog();
    const s = await openSidecar(t.dir, { log: m.log, config: { failures: { alerts: { min_samples: 20 } } } });
    cleanups.push(() => s.close());
    // One state over and over: the rules policy gives one intent (ε = 0.05 aside).
    for (let i = 0; i < 60; i++) await s.handle({ agent_id: `a${i}`, state: { health: 1, target_distance: 100 } });
    expect(await until(() => m.events().some((e) => e.event === 'alert'), 5000)).toBe(true);
    expect(m.events().find((e) => e.event === 'alert')).toMatchObject({ alert: 'INTENT_DOMINANCE', from: 'OK', to: 'WARNING', level: 40 });
  });

  it('logs the change to READ_ONLY_DISK, which no durable audit record can carry', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const m = await memoryLog();
    const s = await openSidecar(t.dir, { log: m.log });
    cleanups.push(() => s.close());
    const audit = join(t.dir, 'audit', 'audit.log');
    execSync(`chattr +i ${audit} ${t.dir}`);
    cleanups.push(() => { execSync(`chattr -i ${audit} ${t.dir}`); });
    expect(await s.handle({ type: 'SET_CANARY_RATIO', operator_id: 'Op-01', ratio: 0.01 })).toMatchObject({ status: 'REJECTED' });
    expect(await until(() => m.events().some((e) => e.event === 'mode_change'))).toBe(true);
    expect(s.engine.view.mode).toBe('READ_ONLY_DISK');
    expect(m.events().find((e) => e.event === 'mode_change')).toMatchObject({ from: 'NORMAL', to: 'READ_ONLY_DISK', cause: 'write error', level: 40 });
    expect(m.events().find((e) => e.event === 'command')).toMatchObject({ type: 'SET_CANARY_RATIO', status: 'REJECTED', audit_seq: null });
    execSync(`chattr -i ${audit} ${t.dir}`);
  });

  it("logs every shed cycle of a flood: the FLOOD lines' shed_total reaches the server's count", async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const m = await memoryLog();
    const s = await openSidecar(t.dir, { log: m.log, config: { max_cycles_per_s: 100 } });
    cleanups.push(() => s.close());
    const replies = await Promise.all(Array.from({ length: 3000 }, (_, i) => s.handle({ agent_id: `f-${i % 10}`, state: { health: 1 } })));
    const shed = replies.filter((r) => (r as Line).error?.code === 'E_FLOOD').length;
    expect(shed).toBeGreaterThan(2000); // 3,000 at once against 100/s
    expect(s.shed).toBe(shed);
    await s.close(); // the flood's last summary is written at stop at the latest
    const floods = m.events().filter((e) => e.event === 'flood');
    expect(floods.length).toBeGreaterThanOrEqual(1);
    expect(floods.length).toBeLessThanOrEqual(3); // summarised: one line per 5 s at most, and one at stop
    expect(floods.at(-1)).toMatchObject({ shed_total: shed, limit_per_s: 100 });
    expect(floods.reduce((n, e) => n + (e.shed as number), 0)).toBe(shed);
  });

  it('--log-level warn keeps refusals and drops successes', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const m = await memoryLog('warn');
    const s = await openSidecar(t.dir, { log: m.log });
    cleanups.push(() => s.close());
    expect(await s.handle({ type: 'HEARTBEAT' })).toMatchObject({ status: 'OK' });
    expect(await s.handle({ type: 'SET_CANARY_RATIO', ratio: 7 })).toMatchObject({ status: 'ERROR' });
    expect(m.events().map((e) => [e.event, e.type, e.code])).toEqual([['command', 'SET_CANARY_RATIO', 'E_BAD_COMMAND']]);
  });

  it('refuses an unknown level with E_CONFIG', async () => {
    await expect(createLog({ level: 'loud' })).rejects.toMatchObject({ code: 'E_CONFIG' });
  });
});
