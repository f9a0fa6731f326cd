// The TypeScript client (the package's public entry) against a real server
// on loopback: cycles over lines and frames, pipelining, the two-step flow,
// HEARTBEAT, and reconnection with backoff across a server restart; the same
// over TLS, against certificates made by openssl for the run.
import { describe, it, expect, afterEach, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '../helpers/tmp.js';
import { server } from '../helpers/server.js';
import { selfSignedCert, type SelfSigned } from '../helpers/tls.js';
import { ShadowpathClient, ShadowpathClientError } from '../../src/client/index.js';
import { ERROR_CODES } from '../../src/errors.js';
import type { RunningServer } from '../../src/server.js';
import { waitFor } from '../helpers/wait.js';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.reverse()) await c(); cleanups = []; });
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

async function up(dir?: string, extra = {}): Promise<{ s: RunningServer; dir: string }> {
  let d = dir;
  if (!d) { const t = tmpDir(); cleanups.push(t.cleanup); d = t.dir; }
  const s = await server(d, extra);
  cleanups.push(() => s.close());
  return { s, dir: d };
}
async function client(port: number, o: Parameters<typeof ShadowpathClient.connect>[0] = {}): Promise<ShadowpathClient> {
  const c = await ShadowpathClient.connect({ port, operatorId: 'Op-01', ...o });
  cleanups.push(() => c.close());
  return c;
}

describe('ShadowpathClient', () => {
  it.each(['json', 'binary'] as const)('pipelines cycles over %s and answers them in order', async (transport) => {
    const { s } = await up();
    const c = await client(s.tcpPort!, { transport });
    const rs = await Promise.all(Array.from({ length: 200 }, (_, i) => c.cycle({ agent_id: `a${i % 9}`, state: { health: 1, target_distance: i % 50, timestamp: Date.now() / 1000 } })));
    expect(rs.every((r) => r.status === 'OK')).toBe(true);
    const ids = rs.map((r) => (r as { cycle_id: number }).cycle_id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(200);
    expect(c.pending).toBe(0);
  });

  it('runs the two-step flow: returns the token reply without confirm, confirms with confirm', async () => {
    const { s } = await up();
    const c = await client(s.tcpPort!);
    expect(await c.command('EMERGENCY_LOCKDOWN', { reason: 'drill' })).toMatchObject({ status: 'OK' });
    const first = await c.command('UNRELEASE_LOCKDOWN');
    expect(first).toMatchObject({ status: 'REQUIRED_CONFIRMATION', confirmation_token: expect.any(String) });
    let shown = '';
    const declined = await c.command('UNRELEASE_LOCKDOWN', {}, { confirm: (r) => { shown = String(r.summary); return false; } });
    expect(declined.status).toBe('REQUIRED_CONFIRMATION');
    expect(shown).toContain('release the lockdown');
    expect(((await c.heartbeat()) as any).lockdown.active).toBe(true);
    expect(await c.command('UNRELEASE_LOCKDOWN', {}, { confirm: true })).toMatchObject({ status: 'OK', audit_seq: expect.any(Number) });
    const hb = await c.heartbeat();
    expect(hb).toMatchObject({ status: 'OK', type: 'HEARTBEAT', lockdown: { active: false } });
  });

  it('reconnects with backoff after the server restarts; a request made while disconnected waits and goes after', async () => {
    const first = await up();
    const port = first.s.tcpPort!;
    const c = await client(port, { reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
    const events: string[] = [];
    c.on('disconnect', () => events.push('disconnect'));
    c.on('reconnecting', () => events.push('reconnecting'));
    c.on('connect', () => events.push('connect'));
    expect(await c.cycle({ agent_id: 'r', state: { health: 1 } })).toMatchObject({ status: 'OK' });
    await first.s.close();
    await waitFor('the client to see the disconnect', () => !c.connected);
    expect(c.connected).toBe(false);
    // Made while disconnected: queued, sent once the server is back. It must
    // outlive at least one failed reconnection attempt (a 'reconnecting' event
    // after it was queued), not just the first one.
    const attempts = events.filter((e) => e === 'reconnecting').length;
    const waiting = c.cycle({ agent_id: 'r', state: { health: 1 } });
    await waitFor('a reconnection attempt while the request waits', () => events.filter((e) => e === 'reconnecting').length >= attempts + 1);
    const second = await server(first.dir, { tcpPort: port });
    cleanups.push(() => second.close());
    expect(await waiting).toMatchObject({ status: 'OK', agent_id: 'r' });
    expect(c.connections).toBe(2);
    expect(events.slice(0, 2)).toEqual(['disconnect', 'reconnecting']);
    expect(events.at(-1)).toBe('connect');
    expect(Object.keys(ERROR_CODES)).toEqual(expect.arrayContaining(['E_CONNECTION_LOST', 'E_REQUEST_TIMEOUT', 'E_CLIENT_CLOSED']));
  });

  it('times out a request that gets no reply (E_REQUEST_TIMEOUT), rejects after close (E_CLIENT_CLOSED) and when the connection drops mid-request (E_CONNECTION_LOST)', async () => {
    const net = await import('node:net');
    const socks: Array<import('node:net').Socket> = [];
    const silent = net.createServer((sock) => { socks.push(sock); sock.on('data', () => {}); });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => silent.close(() => r())));
    const port = (silent.address() as { port: number }).port;
    const c = await client(port, { requestTimeoutMs: 200, reconnect: { enabled: false } });
    await expect(c.heartbeat()).rejects.toMatchObject({ code: 'E_REQUEST_TIMEOUT' });
    await c.close();
    await expect(c.heartbeat()).rejects.toMatchObject({ code: 'E_CLIENT_CLOSED' });
    await expect(ShadowpathClient.connect({ port: 1, connectTimeoutMs: 300 })).rejects.toMatchObject({ code: 'E_CONNECTION_LOST' });
    // Written, then the connection drops before the reply: rejected, not re-sent.
    const c2 = await client(port, { reconnect: { initialDelayMs: 1000 } });
    const inflight = c2.cycle({ state: { health: 1 } });
    await waitFor('the second connection at the silent server', () => socks.length >= 2);
    socks[1].destroy();
    const err = await inflight.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ShadowpathClientError);
    expect(err).toMatchObject({ code: 'E_CONNECTION_LOST' });
  });

  it("is the package's entry: import { ShadowpathClient } from 'shadowpath', with types", async () => {
    const { s } = await up();
    const t = tmpDir();
    cleanups.push(t.cleanup);
    // A script inside the package resolves 'shadowpath' through package.json "exports" (self-reference), as a user's would through node_modules.
    const script = join(ROOT, `.client-entry-${process.pid}.mjs`);
    writeFileSync(script, `import { ShadowpathClient } from 'shadowpath';
const c = await ShadowpathClient.connect({ port: ${s.tcpPort} });
const r = await c.cycle({ agent_id: 'pkg', state: { health: 1 } });
const hb = await c.heartbeat();
console.log(JSON.stringify({ status: r.status, intent: r.intent, hb: hb.status }));
await c.close();
`);
    cleanups.push(async () => { (await import('node:fs')).rmSync(script, { force: true }); });
    const out = await new Promise<string>((resolve, reject) => execFile(process.execPath, [script], { cwd: t.dir, timeout: 20_000 }, (e, so, se) => (e ? reject(new Error(se)) : resolve(so))));
    expect(JSON.parse(out)).toMatchObject({ status: 'OK', intent: expect.any(String), hb: 'OK' });
    const pkg = JSON.parse((await import('node:fs')).readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.exports['.']).toEqual({ types: './dist/src/client/index.d.ts', default: './dist/src/client/index.js' });
    expect((await import('node:fs')).existsSync(join(ROOT, pkg.exports['.'].types))).toBe(true);
  });
});

describe('ShadowpathClient over TLS', () => {
  // `mine` is the server's certificate (self-signed: its own CA); `other` is another self-signed one, the wrong CA.
  let mine: SelfSigned, other: SelfSigned;
  beforeAll(() => {
    const t = tmpDir('shadowpath-tls-');
    mine = selfSignedCert(t.dir, 'mine');
    other = selfSignedCert(t.dir, 'other');
    return () => t.cleanup();
  });
  const tlsUp = (cert: SelfSigned, dir?: string, extra = {}) => up(dir, { tls: { cert: cert.cert, key: cert.key }, ...extra });

  it.each(['json', 'binary'] as const)('runs cycles, HEARTBEAT and a command over TLS (%s), the certificate checked against tls.ca', async (transport) => {
    const { s } = await tlsUp(mine);
    // ca as a Buffer for one, as PEM text (and the name given) for the other: both forms the option takes.
    const c = await client(s.tcpPort!, { transport, tls: transport === 'json' ? { ca: mine.cert } : { ca: mine.cert.toString('utf8'), servername: 'localhost' } });
    expect(c.tls).toBe(true);
    const hb = await c.heartbeat();
    expect(hb).toMatchObject({ status: 'OK', type: 'HEARTBEAT', security: { tls: true } });
    const r1 = await c.cycle({ agent_id: `tls-${transport}`, state: { health: 0.8, target_distance: 12, timestamp: Date.now() / 1000 } });
    expect(r1).toMatchObject({ status: 'OK', agent_id: `tls-${transport}`, intent: expect.any(String) });
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => c.cycle({ agent_id: `tls-${transport}`, state: { health: 1, target_distance: i } })));
    expect(rs.length).toBe(20);
    expect(rs.every((r) => r.status === 'OK')).toBe(true);
    expect(await c.command('EMERGENCY_LOCKDOWN', { reason: 'tls drill' })).toMatchObject({ status: 'OK', audit_seq: expect.any(Number) });
    expect(s.sidecar.control.state.lockdown.active).toBe(true);
    expect(s.sidecar.engine.stats.cycles).toBe(21);
  });

  it('refuses a server whose certificate another CA signed, one the system CAs do not know, and one for another name: E_TLS at once, nothing sent', async () => {
    const { s } = await tlsUp(mine);
    const cases: Array<[string, true | { ca: Buffer; servername?: string }]> = [['another CA', { ca: other.cert }], ['the system CAs', true], ['another name', { ca: mine.cert, servername: 'sidecar.example' }]];
    for (const [what, tls] of cases) {
      const t0 = Date.now();
      const e = await ShadowpathClient.connect({ port: s.tcpPort!, tls, connectTimeoutMs: 10_000 }).then((c) => { cleanups.push(() => c.close()); return null; }, (err: unknown) => err);
      expect(e, what).toBeInstanceOf(ShadowpathClientError);
      expect(e).toMatchObject({ code: 'E_TLS' });
      expect((e as Error).message).toMatch(/certificate|altname|self.signed/i);
      // Not retried until the 10 s connect deadline: a certificate does not mend by waiting.
      expect(Date.now() - t0).toBeLessThan(5000);
    }
    expect(s.tcp!.stats.requests).toBe(0);
    // The same server, the right CA: the refusals above were the certificate check, not the server.
    const c = await client(s.tcpPort!, { tls: { ca: mine.cert } });
    expect(await c.heartbeat()).toMatchObject({ status: 'OK' });
    expect(s.tcp!.stats.requests).toBe(1);
  });

  it('a plain client to the TLS port gets E_CONNECTION_LOST; a TLS client to a plain port, or to a silent one, gets E_TLS', async () => {
    const { s } = await tlsUp(mine);
    const plain = await client(s.tcpPort!, { reconnect: { enabled: false }, requestTimeoutMs: 10_000 });
    expect(plain.tls).toBe(false);
    await expect(plain.heartbeat()).rejects.toMatchObject({ code: 'E_CONNECTION_LOST' });
    expect(s.tcp!.stats.requests).toBe(0);
    const p = await up();
    await expect(ShadowpathClient.connect({ port: p.s.tcpPort!, tls: { ca: mine.cert } })).rejects.toMatchObject({ code: 'E_TLS' });
    expect(p.s.sidecar.engine.stats.cycles).toBe(0);
    // A port that accepts and never answers the handshake: E_TLS after connectTimeoutMs, not a hang.
    const net = await import('node:net');
    const socks: Array<import('node:net').Socket> = [];
    const silent = net.createServer((sock) => { socks.push(sock); sock.on('data', () => {}); });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => { for (const k of socks) k.destroy(); silent.close(() => r()); }));
    const e = await ShadowpathClient.connect({ port: (silent.address() as { port: number }).port, tls: { ca: mine.cert }, connectTimeoutMs: 300 }).then(() => null, (err: unknown) => err);
    expect(e).toMatchObject({ code: 'E_TLS' });
    expect((e as Error).message).toContain('no TLS handshake within 300 ms');
  });

  it('requests waiting for a reconnection get E_TLS when the server comes back with a certificate the client does not trust', async () => {
    const first = await tlsUp(mine);
    const port = first.s.tcpPort!;
    const c = await client(port, { tls: { ca: mine.cert }, reconnect: { initialDelayMs: 20, maxDelayMs: 200 }, requestTimeoutMs: 20_000 });
    expect(await c.heartbeat()).toMatchObject({ status: 'OK' });
    await first.s.close();
    for (let i = 0; i < 100 && c.connected; i++) await new Promise((r) => setTimeout(r, 20));
    expect(c.connected).toBe(false);
    const waiting = c.cycle({ agent_id: 'r', state: { health: 1 } }).then(() => null, (err: unknown) => err);
    await tlsUp(other, first.dir, { tcpPort: port });
    const e = await waiting;
    expect(e).toMatchObject({ code: 'E_TLS' });
    expect(c.connected).toBe(false);
    expect(c.connections).toBe(1);
  });
});
