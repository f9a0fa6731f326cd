// The measured attacks of issue 11, over real loopback sockets, each refused
// with nothing run and nothing learned; TLS round trips; throttled
// authentication. Certificates are made per run by Debian's `openssl`
// (test/helpers/tls.ts says why).
import { describe, it, expect, afterEach, beforeAll } from 'vitest';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { execFileSync, execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '../helpers/tmp.js';
import { server } from '../helpers/server.js';
import { selfSignedCert } from '../helpers/tls.js';
import { TcpClient, HttpClient } from '../../src/transport/client.js';
import { verifyLogFile } from '../../src/audit/log.js';
import { hashSecret } from '../../src/control/operators.js';
import { isSidecarError } from '../../src/errors.js';
import type { RunningServer, ServerOptions } from '../../src/server.js';

const MAIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.reverse()) await c(); cleanups = []; });

async function up(extra: Partial<ServerOptions> = {}): Promise<RunningServer> {
  const t = tmpDir();
  const s = await server(t.dir, extra);
  cleanups.push(t.cleanup, () => s.close());
  return s;
}

async function audit(s: RunningServer) {
  return (await verifyLogFile(s.sidecar.audit.path)).records;
}

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: Record<string, unknown>; text: string }

/** One HTTP request with exactly these headers (Host included when given). */
function request(port: number, o: { method?: string; path: string; headers?: Record<string, string>; body?: string; localAddress?: string; ca?: Buffer }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const lib = o.ca ? https : http;
    const req = lib.request({ host: '127.0.0.1', port, method: o.method ?? 'POST', path: o.path, headers: o.headers ?? {}, localAddress: o.localAddress, ca: o.ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: Record<string, unknown> = {};
        try { body = JSON.parse(text) as Record<string, unknown>; } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
      });
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

const LOCKDOWN = JSON.stringify({ type: 'EMERGENCY_LOCKDOWN', operator_id: 'Op-01' });
const ATTACKS: Array<{ path: string; body: string }> = [
  { path: '/v1/command', body: LOCKDOWN },
  { path: '/v1/command', body: JSON.stringify({ type: 'REGISTER_MODEL', operator_id: 'Op-01', metadata: { version: 'EVIL-1' } }) },
  { path: '/v1/command', body: JSON.stringify({ type: 'SET_CANDIDATE_MODEL', operator_id: 'Op-01', version: 'V1' }) },
  { path: '/v1/command', body: JSON.stringify({ type: 'SET_CANARY_RATIO', operator_id: 'Op-01', ratio: 0.1 }) },
  // A forged outcome the candidate would learn from: an attack that "killed" the agent.
  { path: '/v1/cycle', body: JSON.stringify({ agent_id: 'bot-1', state: { health: 0.9, target_distance: 1 }, intent_taken: 'EVADE', result: { outcomes: { is_alive: false, damage_received: 1 } } }) },
  { path: '/v1/cycle', body: JSON.stringify({ cycles: [{ agent_id: 'bot-1', state: { health: 0.9, target_distance: 1 }, intent_taken: 'EVADE', result: { outcomes: { is_alive: false } } }] }) },
];

/** What must not move when an attack is refused. */
async function footprint(s: RunningServer) {
  const cand = await s.sidecar.engine.snapshotCandidate();
  const recs = await audit(s);
  return {
    commands: recs.filter((r) => r.kind === 'COMMAND').length,
    lockdown: s.sidecar.control.state.lockdown.active,
    canary: s.sidecar.control.state.canary_ratio,
    candidate: s.sidecar.control.state.candidate?.version ?? null,
    models: s.sidecar.registry.list().map((m) => m.metadata.version).sort(),
    cycles: s.sidecar.engine.stats.cycles,
    learningUpdates: s.sidecar.engine.stats.learningUpdates,
    candidateUpdates: cand?.updates ?? null,
    quarantined: s.sidecar.quarantine.total,
  };
}

/** A registered candidate that has served one cycle of bot-1, so its next outcome would be learned. */
async function withCandidate(s: RunningServer) {
  const h = new HttpClient('127.0.0.1', s.httpPort!);
  cleanups.push(() => h.close());
  expect((await h.command({ type: 'REGISTER_MODEL', operator_id: 'Op-01', metadata: { version: 'V1' } })).body.status).toBe('OK');
  expect((await h.command({ type: 'SET_CANDIDATE_MODEL', operator_id: 'Op-01', version: 'V1' })).body.status).toBe('OK');
  expect((await h.cycle({ agent_id: 'bot-1', state: { health: 0.9, target_distance: 1 } })).body.status).toBe('OK');
  return h;
}

describe('cross-site requests (measured case 1)', () => {
  it('a text/plain POST from another origin, to every command and to /v1/cycle, is 403 E_ORIGIN and runs nothing', async () => {
    const s = await up();
    const h = await withCandidate(s);
    const before = await footprint(s);
    for (const a of ATTACKS) {
      const r = await request(s.httpPort!, { path: a.path, body: a.body, headers: { 'content-type': 'text/plain', origin: 'http://evil.example' } });
      expect(r.status, a.body).toBe(403);
      expect(r.body).toMatchObject({ status: 'REJECTED', error: { code: 'E_ORIGIN' } });
      expect(r.headers['access-control-allow-origin']).toBeUndefined();
      expect(r.headers.connection).toBe('close');
    }
    expect(await footprint(s)).toEqual(before);
    expect(s.http!.guard.refused.E_ORIGIN).toBe(ATTACKS.length);
    // The positive control: the same lockdown as JSON, no Origin, runs.
    expect((await h.request('POST', '/v1/command', JSON.parse(LOCKDOWN))).body).toMatchObject({ status: 'OK' });
    expect(s.sidecar.control.state.lockdown.active).toBe(true);
  });

  it('simple content types (text/plain, forms, none) are 415 E_UNSUPPORTED_MEDIA_TYPE, even from no origin at all', async () => {
    const s = await up();
    await withCandidate(s);
    const before = await footprint(s);
    const types = ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=----x', undefined];
    for (const a of ATTACKS) for (const t of types) {
      const r = await request(s.httpPort!, { path: a.path, body: a.body, headers: t ? { 'content-type': t } : {} });
      expect(r.status, `${t} ${a.body}`).toBe(415);
      expect(r.body).toMatchObject({ status: 'ERROR', error: { code: 'E_UNSUPPORTED_MEDIA_TYPE' } });
    }
    expect(await footprint(s)).toEqual(before);
    expect(s.http!.guard.refused.E_UNSUPPORTED_MEDIA_TYPE).toBe(ATTACKS.length * types.length);
    // JSON with a charset parameter, and MessagePack, are what clients send: they run.
    const ok = await request(s.httpPort!, { path: '/v1/cycle', body: ATTACKS[4].body, headers: { 'content-type': 'application/json; charset=utf-8' } });
    expect(ok).toMatchObject({ status: 200, body: { status: 'OK' } });
    expect(s.sidecar.engine.stats.cycles).toBe(before.cycles + 1);
  });

  it('a cross-origin preflight gets no permission, and no reply carries a CORS header', async () => {
    const s = await up();
    const pre = await request(s.httpPort!, { method: 'OPTIONS', path: '/v1/command', headers: {
      origin: 'http://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    expect(pre.status).toBe(403);
    expect(pre.body).toMatchObject({ error: { code: 'E_ORIGIN' } });
    const bare = await request(s.httpPort!, { method: 'OPTIONS', path: '/v1/command' });
    expect(bare.status).toBe(404);
    const own = await request(s.httpPort!, { path: '/v1/command', body: JSON.stringify({ type: 'HEARTBEAT' }), headers: { 'content-type': 'application/json', origin: `http://127.0.0.1:${s.httpPort}` } });
    expect(own).toMatchObject({ status: 200, body: { status: 'OK', type: 'HEARTBEAT' } });
    const replies = [pre, bare, own, await request(s.httpPort!, { method: 'GET', path: '/v1/heartbeat' })];
    expect(replies.length).toBe(4);
    for (const r of replies) expect(Object.keys(r.headers).filter((k) => k.startsWith('access-control-'))).toEqual([]);
  });

  it('a page of another origin that a browser marks cross-site or same-site is refused', async () => {
    const s = await up();
    for (const site of ['cross-site', 'same-site']) {
      const r = await request(s.httpPort!, { path: '/v1/command', body: LOCKDOWN, headers: { 'content-type': 'application/json', 'sec-fetch-site': site } });
      expect(r).toMatchObject({ status: 403, body: { error: { code: 'E_ORIGIN' } } });
    }
    const null_ = await request(s.httpPort!, { path: '/v1/command', body: LOCKDOWN, headers: { 'content-type': 'application/json', origin: 'null' } });
    expect(null_).toMatchObject({ status: 403, body: { error: { code: 'E_ORIGIN' } } });
    expect(s.sidecar.control.state.lockdown.active).toBe(false);
    expect((await audit(s)).filter((r) => r.kind === 'COMMAND')).toEqual([]);
  });
});

describe('DNS rebinding (measured case 2)', () => {
  it('a Host other than loopback names, the listen address or --allowed-host is 421 E_HOST, for reads too', async () => {
    const s = await up({ allowedHosts: ['sidecar.internal'] });
    const p = s.httpPort!;
    for (const path of ['/v1/heartbeat', '/v1/health', '/metrics', '/healthz', '/readyz', '/nope']) {
      const r = await request(p, { method: 'GET', path, headers: { host: `evil.example:${p}` } });
      expect(r.status, path).toBe(421);
      expect(r.body).toMatchObject({ status: 'REJECTED', error: { code: 'E_HOST' } });
      expect(r.text).not.toContain('active_model');
    }
    // A rebinding page is same-origin with itself: it sends JSON with its own Origin and Host.
    const post = await request(p, { path: '/v1/command', body: LOCKDOWN, headers: { host: `evil.example:${p}`, origin: `http://evil.example:${p}`, 'content-type': 'application/json' } });
    expect(post).toMatchObject({ status: 421, body: { error: { code: 'E_HOST' } } });
    // Two-step commands cannot even be started, so no confirmation token is ever read.
    const promote = await request(p, { path: '/v1/command', body: JSON.stringify({ type: 'RESET_FAILURE_STATUS', operator_id: 'Op-01' }), headers: { host: `evil.example:${p}`, 'content-type': 'application/json' } });
    expect(promote.status).toBe(421);
    expect(promote.text).not.toContain('confirmation_token');
    expect(s.http!.guard.refused.E_HOST).toBe(8);
    expect(s.sidecar.control.state.lockdown.active).toBe(false);
    expect((await audit(s)).filter((r) => r.kind === 'COMMAND')).toEqual([]);
    // The names that are served.
    for (const host of [`localhost:${p}`, `127.0.0.1:${p}`, `[::1]:${p}`, `sidecar.internal:${p}`, `LOCALHOST.:${p}`]) {
      expect((await request(p, { method: 'GET', path: '/v1/heartbeat', headers: { host } })).status, host).toBe(200);
    }
    const hb = await request(p, { method: 'GET', path: '/v1/heartbeat' });
    expect(hb.body.security).toMatchObject({ loopback_only: true, tls: false, operators: false, insecure: false, http_refused: { E_HOST: 8, E_ORIGIN: 0, E_UNSUPPORTED_MEDIA_TYPE: 0 } });
    expect((hb.body.security as { allowed_hosts: string[] }).allowed_hosts).toEqual(expect.arrayContaining(['localhost', '127.0.0.1', '::1', 'sidecar.internal']));
  });
});

describe('beyond loopback (measured case 3)', () => {
  // Nothing here listens beyond loopback: the refusals happen before any
  // port is opened, and the accepted --insecure start opens none.
  it('a non-loopback --host without an operators file, or without TLS, does not start; the data directory stays free', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const ops = join(t.dir, 'operators.json');
    writeFileSync(ops, JSON.stringify([{ id: 'Op-01', role: 'admin', secret_sha256: hashSecret('s3cret-one') }]));
    const data = join(t.dir, 'data');
    for (const [o, fix] of [[{}, '--operators'], [{ operatorsFile: ops }, '--tls-cert']] as const) {
      const e = await server(data, { host: '0.0.0.0', ...o }).then(() => null, (err: unknown) => err);
      expect(isSidecarError(e, 'E_CONFIG')).toBe(true);
      expect((e as Error).message).toContain(fix);
      expect((e as Error).message).toContain('--insecure');
    }
    // Not even the lock was taken: a loopback server starts on the same directory.
    const s = await server(data);
    await s.close();
  });

  it('--insecure starts it, audited and shown in HEARTBEAT', async () => {
    const s = await up({ host: '0.0.0.0', insecure: true, tcpPort: null, httpPort: null });
    expect(s.exposure).toMatchObject({ loopback_only: false, insecure: true });
    const hb = await s.sidecar.handle({ type: 'HEARTBEAT' }) as Record<string, any>;
    expect(hb.security).toMatchObject({ host: '0.0.0.0', loopback_only: false, insecure: true, operators: false, tls: false });
    expect(hb.security.warnings[0]).toContain('no operators file');
    const exp = (await audit(s)).filter((r) => r.kind === 'EXPOSURE');
    expect(exp).toHaveLength(1);
    expect(exp[0].payload).toMatchObject({ host: '0.0.0.0', insecure: true });
  });

  it('the CLI refuses `serve --host 0.0.0.0` with E_CONFIG naming the fix', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => execFile(process.execPath, [MAIN, 'serve', '--data-dir', t.dir, '--host', '0.0.0.0', '--tcp-port', '0', '--http-port', '0'], { timeout: 30_000 },
      (err, _out, stderr) => resolve({ code: err ? Number(err.code) : 0, stderr })));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('E_CONFIG');
    expect(r.stderr).toContain('--operators');
  });
});

describe('the TCP port and HTTP-shaped bytes', () => {
  it('an HTTP request sent to the TCP port gets E_BAD_JSON and the stream closes before its JSON lines run', async () => {
    const s = await up();
    const bytes = `POST /v1/command HTTP/1.1\r\nHost: 127.0.0.1:${s.tcpPort}\r\nContent-Type: text/plain\r\nContent-Length: ${LOCKDOWN.length + 1}\r\n\r\n${LOCKDOWN}\n${JSON.stringify({ type: 'REGISTER_MODEL', metadata: { version: 'X' } })}\n`;
    const got = await new Promise<{ text: string; closed: boolean }>((resolve) => {
      const sock = net.connect({ host: '127.0.0.1', port: s.tcpPort! }, () => sock.write(bytes));
      let text = '';
      sock.on('data', (d) => { text += d.toString('utf8'); });
      const t = setTimeout(() => { sock.destroy(); resolve({ text, closed: false }); }, 5000);
      sock.on('close', () => { clearTimeout(t); resolve({ text, closed: true }); });
      sock.on('error', () => {});
    });
    expect(got.closed).toBe(true);
    const lines = got.text.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ status: 'ERROR', error: { code: 'E_BAD_JSON' } });
    expect(s.tcp!.stats.badFrames).toBe(1);
    expect(s.sidecar.control.state.lockdown.active).toBe(false);
    expect(s.sidecar.registry.list()).toEqual([]);
    expect((await audit(s)).filter((r) => r.kind === 'COMMAND')).toEqual([]);
  });
});

describe('TLS', () => {
  let certDir: { dir: string; cleanup: () => void };
  let cert: Buffer, key: Buffer, certFile: string, keyFile: string;
  beforeAll(() => {
    certDir = tmpDir('shadowpath-tls-');
    ({ cert, key, certFile, keyFile } = selfSignedCert(certDir.dir));
    return () => certDir.cleanup();
  });

  it('TCP (JSON lines and binary frames) and HTTPS round trips, with the certificate checked', async () => {
    const s = await up({ tls: { cert, key } });
    for (const mode of ['json', 'binary'] as const) {
      const c = await TcpClient.connect('127.0.0.1', s.tcpPort!, mode, { ca: cert });
      cleanups.push(() => c.close());
      expect(await c.request({ type: 'HEARTBEAT' })).toMatchObject({ status: 'OK', security: { tls: true } });
      expect(await c.request({ agent_id: `tls-${mode}`, state: { health: 0.5 } })).toMatchObject({ status: 'OK', agent_id: `tls-${mode}` });
    }
    const h = new HttpClient('localhost', s.httpPort!, 2, { ca: cert });
    cleanups.push(() => h.close());
    expect(await h.cycle({ agent_id: 'tls-http', state: { health: 0.5 } })).toMatchObject({ status: 200, body: { status: 'OK' } });
    expect(await h.command({ type: 'EMERGENCY_LOCKDOWN', operator_id: 'Op-01' })).toMatchObject({ status: 200, body: { status: 'OK' } });
    expect(s.sidecar.engine.stats.cycles).toBe(3);
    // Without the CA the client refuses the server (the check is real)...
    const e = await TcpClient.connect('127.0.0.1', s.tcpPort!, 'json', {}).then(() => null, (err: Error) => err);
    expect(e?.message).toMatch(/self.signed|certificate/i);
    // ...and plain text to the TLS ports gets no service.
    const plain = await request(s.httpPort!, { method: 'GET', path: '/v1/heartbeat' }).then((r) => r.status, () => 'failed');
    expect(plain === 'failed' || plain === 400).toBe(true);
    const c = await TcpClient.connect('127.0.0.1', s.tcpPort!);
    const r = await Promise.race([c.request({ type: 'HEARTBEAT' }).then(() => 'answered', () => 'closed'), new Promise((r) => setTimeout(() => r('silent'), 3000))]);
    c.socket.destroy();
    expect(r).not.toBe('answered');
    expect(s.sidecar.control.state.lockdown.active).toBe(true);
  });

  it('beyond loopback with operators and TLS it starts; a bad certificate/key pair is E_CONFIG', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const other = execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1']);
    const e = await server(join(t.dir, 'a'), { tls: { cert, key: other } }).then(() => null, (err: unknown) => err);
    expect(isSidecarError(e, 'E_CONFIG')).toBe(true);
    const ops = join(t.dir, 'operators.json');
    writeFileSync(ops, JSON.stringify([{ id: 'Op-01', role: 'admin', secret_sha256: hashSecret('s3cret-one') }]));
    const s = await up({ host: '0.0.0.0', operatorsFile: ops, tls: { cert, key }, tcpPort: null, httpPort: null });
    expect(s.exposure).toMatchObject({ loopback_only: false, tls: true, operators: true, insecure: false, warnings: [] });
  });

  it('the CLI: serve --tls-cert/--tls-key, then heartbeat and cmd with --tls-ca', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const { spawn } = await import('node:child_process');
    const { createInterface } = await import('node:readline');
    const srv = spawn(process.execPath, [MAIN, 'serve', '--data-dir', t.dir, '--tcp-port', '0', '--http-port', '0', '--tls-cert', certFile, '--tls-key', keyFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(() => { srv.kill('SIGKILL'); });
    const info = JSON.parse(await new Promise<string>((r) => createInterface({ input: srv.stdout! }).once('line', r))) as { tcp_port: number; http_port: number; tls: boolean };
    expect(info.tls).toBe(true);
    const run = (args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => execFile(process.execPath, [MAIN, ...args], { timeout: 30_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr })));
    const hb = await run(['heartbeat', '--tcp-port', String(info.tcp_port), '--tls-ca', certFile]);
    expect(hb.code).toBe(0);
    expect(JSON.parse(hb.stdout)).toMatchObject({ status: 'OK', security: { tls: true } });
    const lock = await run(['cmd', 'EMERGENCY_LOCKDOWN', '--operator', 'Op-01', '--tcp-port', String(info.tcp_port), '--tls-ca', certFile]);
    expect(lock.code).toBe(0);
    expect(JSON.parse(lock.stdout)).toMatchObject({ status: 'OK' });
    const noCa = await run(['heartbeat', '--tcp-port', String(info.tcp_port), '--tls']);
    expect(noCa.code).toBe(1);
    expect(noCa.stderr).toContain('E_CONFIG');
    const lg = await run(['loadgen', '--transport', 'http', '--rate', '200', '--duration', '1', '--json', '--http-port', String(info.http_port), '--tls-ca', certFile, '--host', 'localhost']);
    // Every cycle answered over TLS; the run fails because the server is locked (the lockdown above), and says so.
    expect(lg.code).toBe(1);
    expect(JSON.parse(lg.stdout)).toMatchObject({ sent: 200, answered: 200, ok: 200, server_end: { mode: 'LOCKDOWN' } });
  });
});

describe('failed authentications', () => {
  const SECRETS = { op: 'right-horse-battery', admin: 'staple-correct-admin' };
  async function withOperators() {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const ops = join(t.dir, 'operators.json');
    writeFileSync(ops, JSON.stringify([
      { id: 'Op-01', role: 'operator', secret_sha256: hashSecret(SECRETS.op) },
      { id: 'Admin-01', role: 'admin', secret_sha256: hashSecret(SECRETS.admin) },
    ]));
    const s = await server(join(t.dir, 'data'), { operatorsFile: ops });
    cleanups.push(() => s.close());
    return s;
  }
  /** A TCP connection from a chosen loopback source address (127.0.0.0/8 is all ours on Linux). */
  function tcpFrom(s: RunningServer, localAddress: string): Promise<{ send: (req: unknown) => Promise<Record<string, unknown>>; close: () => void }> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: '127.0.0.1', port: s.tcpPort!, localAddress }, () => {
        const waiters: Array<(v: Record<string, unknown>) => void> = [];
        let buf = '';
        sock.on('data', (d) => {
          buf += d.toString('utf8');
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) { const line = buf.slice(0, i); buf = buf.slice(i + 1); waiters.shift()?.(JSON.parse(line)); }
        });
        resolve({ send: (req) => new Promise((r) => { waiters.push(r); sock.write(JSON.stringify(req) + '\n'); }), close: () => sock.end() });
      });
      sock.once('error', reject);
    });
  }

  it('are throttled per peer (E_AUTH_THROTTLED, HTTP 429) without locking the operator out of its other peers; each is audited, no secret anywhere', async () => {
    const s = await withOperators();
    const attacker = await tcpFrom(s, '127.0.0.2');
    cleanups.push(attacker.close);
    for (let i = 0; i < 10; i++) {
      expect(await attacker.send({ type: 'EMERGENCY_LOCKDOWN', operator_id: 'Op-01', auth: `guess-${i}-xyzzy` })).toMatchObject({ status: 'REJECTED', error: { code: 'E_AUTH' } });
    }
    // The 11th: throttled, even with the right secret (it is not checked).
    expect(await attacker.send({ type: 'EMERGENCY_LOCKDOWN', operator_id: 'Op-01', auth: SECRETS.op })).toMatchObject({ status: 'REJECTED', error: { code: 'E_AUTH_THROTTLED' } });
    const overHttp = await request(s.httpPort!, { path: '/v1/command', body: JSON.stringify({ type: 'HEARTBEAT', operator_id: 'Admin-01' }),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRETS.admin}` }, localAddress: '127.0.0.2' });
    expect(overHttp).toMatchObject({ status: 429, body: { error: { code: 'E_AUTH_THROTTLED' } } });
    expect(s.sidecar.control.state.lockdown.active).toBe(false);
    // The legitimate operator from another address: served, over TCP and HTTP.
    const own = await tcpFrom(s, '127.0.0.1');
    cleanups.push(own.close);
    expect(await own.send({ type: 'EMERGENCY_LOCKDOWN', operator_id: 'Op-01', auth: SECRETS.op })).toMatchObject({ status: 'OK' });
    const rel = await request(s.httpPort!, { path: '/v1/command', body: JSON.stringify({ type: 'UNRELEASE_LOCKDOWN', operator_id: 'Admin-01' }),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRETS.admin}` }, localAddress: '127.0.0.3' });
    expect(rel).toMatchObject({ status: 200, body: { status: 'REQUIRED_CONFIRMATION' } });
    const token = rel.body.confirmation_token as string;
    expect(typeof token).toBe('string');
    expect(await own.send({ type: 'UNRELEASE_LOCKDOWN', operator_id: 'Admin-01', auth: SECRETS.admin, confirmation_token: token })).toMatchObject({ status: 'OK' });
    // Anonymous HEARTBEATs from the throttled peer still work (no credential, no guess).
    expect(await attacker.send({ type: 'HEARTBEAT' })).toMatchObject({ status: 'OK' });

    const recs = await audit(s);
    const fails = recs.filter((r) => r.kind === 'AUTH_FAILURE');
    expect(fails.map((r) => (r.payload as { reason: string }).reason)).toEqual([...Array(10).fill('bad_credential'), 'throttled']);
    expect(fails.every((r) => (r.payload as { peer: string }).peer === '127.0.0.2' && (r.payload as { claimed_operator_id: string }).claimed_operator_id === 'Op-01')).toBe(true);
    const codes = recs.filter((r) => r.kind === 'COMMAND').map((r) => (r.payload as { error?: string }).error ?? 'OK');
    expect(codes.filter((c) => c === 'E_AUTH')).toHaveLength(10);
    expect(codes.filter((c) => c === 'E_AUTH_THROTTLED')).toHaveLength(2);
    const hb = await own.send({ type: 'HEARTBEAT' }) as { security: { auth: { failures: number; throttled: number } } };
    expect(hb.security.auth).toEqual({ failures: 10, throttled: 2 });
    // Neither a secret, a guess nor a confirmation token is in the audit.
    const text = readFileSync(s.sidecar.audit.path, 'utf8');
    expect(text).toContain('AUTH_FAILURE');
    for (const secret of [SECRETS.op, SECRETS.admin, 'xyzzy', token]) expect(text.includes(secret), secret).toBe(false);
  });

  it('an operator guessed at from many peers: the guessing peers wait, the operator\'s clean peer is served', async () => {
    const s = await withOperators();
    // 9 + 9 + 2 failures from three addresses: none over its own budget, Op-01's budget of 20 spent.
    const guessers = [];
    for (const [addr, n] of [['127.0.0.2', 9], ['127.0.0.3', 9], ['127.0.0.4', 2]] as const) {
      const c = await tcpFrom(s, addr);
      cleanups.push(c.close);
      guessers.push(c);
      for (let i = 0; i < n; i++) expect(await c.send({ type: 'HEARTBEAT', operator_id: 'Op-01', auth: 'wrong' })).toMatchObject({ error: { code: 'E_AUTH' } });
    }
    for (const c of guessers) expect(await c.send({ type: 'HEARTBEAT', operator_id: 'Op-01', auth: SECRETS.op })).toMatchObject({ error: { code: 'E_AUTH_THROTTLED' } });
    // Their own budgets are not spent: as another operator they are served.
    expect(await guessers[0].send({ type: 'HEARTBEAT', operator_id: 'Admin-01', auth: SECRETS.admin })).toMatchObject({ status: 'OK' });
    const own = await tcpFrom(s, '127.0.0.1');
    cleanups.push(own.close);
    expect(await own.send({ type: 'EMERGENCY_LOCKDOWN', operator_id: 'Op-01', auth: SECRETS.op })).toMatchObject({ status: 'OK' });
  });
});

describe('secrets are not logged', () => {
  it('serve prints no secret or token to stdout or stderr', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const ops = join(t.dir, 'operators.json');
    writeFileSync(ops, JSON.stringify([{ id: 'Admin-01', role: 'admin', secret_sha256: hashSecret('do-not-print-me') }]));
    const { spawn } = await import('node:child_process');
    const { createInterface } = await import('node:readline');
    const srv = spawn(process.execPath, [MAIN, 'serve', '--data-dir', join(t.dir, 'd'), '--tcp-port', '0', '--http-port', '0', '--operators', ops], { stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(() => { srv.kill('SIGKILL'); });
    let out = '';
    srv.stderr!.on('data', (d) => { out += d; });
    const first = await new Promise<string>((r) => createInterface({ input: srv.stdout! }).once('line', r));
    srv.stdout!.on('data', (d) => { out += d; });
    const info = JSON.parse(first) as { tcp_port: number };
    const c = await TcpClient.connect('127.0.0.1', info.tcp_port);
    expect(await c.request({ type: 'HEARTBEAT', operator_id: 'Admin-01', auth: 'a-wrong-guess' })).toMatchObject({ error: { code: 'E_AUTH' } });
    const r = await c.request({ type: 'RESET_FAILURE_STATUS', operator_id: 'Admin-01', auth: 'do-not-print-me' });
    expect(r).toMatchObject({ status: 'REJECTED', error: { code: 'E_ALREADY_NORMAL' } });
    const lock = await c.request({ type: 'EMERGENCY_LOCKDOWN', operator_id: 'Admin-01', auth: 'do-not-print-me' });
    expect(lock.status).toBe('OK');
    const rel = await c.request({ type: 'UNRELEASE_LOCKDOWN', operator_id: 'Admin-01', auth: 'do-not-print-me' });
    expect(rel.status).toBe('REQUIRED_CONFIRMATION');
    c.close();
    const exit = new Promise<number | null>((res) => srv.once('exit', (code) => res(code)));
    srv.kill('SIGTERM');
    expect(await exit).toBe(0);
    out += first;
    expect(out).toContain('listening');
    for (const s of ['do-not-print-me', 'a-wrong-guess', rel.confirmation_token as string]) expect(out.includes(s), s).toBe(false);
    const audit = readFileSync(join(t.dir, 'd', 'audit', 'audit.log'), 'utf8');
    expect(audit).toContain('UNRELEASE_LOCKDOWN');
    for (const s of ['do-not-print-me', 'a-wrong-guess', rel.confirmation_token as string]) expect(audit.includes(s), s).toBe(false);
  });
});
