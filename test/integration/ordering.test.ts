// One source of truth, seen in order: the three sequences an operator met,
// each pipelined on one connection (every request written before any reply
// is read), over TCP lines, binary frames and HTTP/1.1 pipelining.
import { describe, it, expect, afterEach } from 'vitest';
import net from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { server } from '../helpers/server.js';
import { TcpClient } from '../../src/transport/client.js';
import type { RunningServer } from '../../src/server.js';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.reverse()) await c(); cleanups = []; });

type Pipe = (reqs: Array<Record<string, unknown>>) => Promise<Array<Record<string, any>>>;

/** Raw HTTP/1.1 pipelining: every request written on one socket at once, the responses read back in order. */
function httpPipe(port: number): Pipe {
  return (reqs) => new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const out: Array<Record<string, any>> = [];
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const head = buf.indexOf('\r\n\r\n');
        if (head < 0) break;
        const len = Number(/content-length: (\d+)/i.exec(buf.subarray(0, head).toString())?.[1] ?? 0);
        if (buf.length < head + 4 + len) break;
        out.push(JSON.parse(buf.subarray(head + 4, head + 4 + len).toString()));
        buf = buf.subarray(head + 4 + len);
      }
      if (out.length === reqs.length) { sock.end(); resolve(out); }
    });
    sock.on('error', reject);
    const wire = reqs.map((r) => {
      const isCmd = typeof r.type === 'string';
      const body = JSON.stringify(r);
      return `POST ${isCmd ? '/v1/command' : '/v1/cycle'} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    }).join('');
    sock.write(wire);
  });
}

async function pipeFor(kind: 'tcp' | 'binary' | 'http', s: RunningServer): Promise<Pipe> {
  if (kind === 'http') return httpPipe(s.httpPort!);
  const c = await TcpClient.connect('127.0.0.1', s.tcpPort!, kind === 'binary' ? 'binary' : 'json');
  cleanups.push(() => c.close());
  return (reqs) => Promise.all(reqs.map((r) => c.request(r))) as Promise<Array<Record<string, any>>>;
}

async function fresh(kind: 'tcp' | 'binary' | 'http') {
  const t = tmpDir();
  const s = await server(t.dir);
  cleanups.push(t.cleanup, () => s.close());
  return { s, dir: t.dir, pipe: await pipeFor(kind, s) };
}

describe.each(['tcp', 'binary', 'http'] as const)('order of effect on one connection, %s', (kind) => {
  it('a read after a write sees the write: REGISTER_MODEL then GET_MODEL', async () => {
    const { pipe } = await fresh(kind);
    const [reg, get] = await pipe([
      { type: 'REGISTER_MODEL', operator_id: 'Op-01', metadata: { version: 'M-Ryw-1' } },
      { type: 'GET_MODEL', operator_id: 'Op-01', version: 'M-Ryw-1' },
    ]);
    expect(reg).toMatchObject({ status: 'OK', version: 'M-Ryw-1' });
    expect(get).toMatchObject({ status: 'OK', model: { version: 'M-Ryw-1' } });
    expect(get.audit_seq).toBeGreaterThan(reg.audit_seq);
  });

  it('EMERGENCY_LOCKDOWN then HEARTBEAT then a cycle: the heartbeat shows the lockdown, the cycle is STOP', async () => {
    const { pipe } = await fresh(kind);
    const [lock, hb, cycle] = await pipe([
      { type: 'EMERGENCY_LOCKDOWN', operator_id: 'Op-01', reason: 'drill' },
      { type: 'HEARTBEAT' },
      { agent_id: 'bot-1', state: { health: 1 } },
    ]);
    expect(lock).toMatchObject({ status: 'OK' });
    expect(hb).toMatchObject({ status: 'OK', lockdown: { active: true, reason: 'drill' }, learning_state: 'FROZEN', failure_status: { mode: 'LOCKDOWN' } });
    expect(cycle).toMatchObject({ status: 'OK', intent: 'STOP', policy_source: 'LOCKDOWN', failure_mode: 'LOCKDOWN' });
  });

  it('a cycle whose timestamp goes back (1 s), then HEARTBEAT: the reply, the heartbeat and the incident agree', async () => {
    const { pipe, dir } = await fresh(kind);
    const now = Date.now() / 1000;
    const [first, back, hb] = await pipe([
      { agent_id: 'bot-7', state: { health: 1, timestamp: now } },
      { agent_id: 'bot-7', state: { health: 1, timestamp: now - 1 } }, // back in time, not stale (staleness is 2 s by default)
      { type: 'HEARTBEAT' },
    ]);
    expect(first).toMatchObject({ status: 'OK', failure_mode: 'NORMAL' });
    expect(back).toMatchObject({ status: 'OK', intent: 'STOP', fallback_reason: 'TIME_INTEGRITY_VIOLATION', failure_mode: 'TEMPORAL_LOCK' });
    const fs = hb.failure_status;
    expect(fs).toMatchObject({ mode: 'TEMPORAL_LOCK', incident_count: 1, last_failure: { type: 'TIME_INTEGRITY_VIOLATION', incident_id: expect.any(String) } });
    // The incident file is on disk, or HEARTBEAT says it is being written.
    const file = join(dir, 'failures', `incident_${fs.last_failure.incident_id}.json`);
    if (!existsSync(file)) expect(fs.incident_pending).toBe(true);
    const deadline = Date.now() + 10_000;
    while (!existsSync(file) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(existsSync(file)).toBe(true);
  });
});

describe('across connections', () => {
  it('once a mutation has been answered, a request on another connection sees it', async () => {
    const t = tmpDir();
    const s = await server(t.dir);
    cleanups.push(t.cleanup, () => s.close());
    const a = await TcpClient.connect('127.0.0.1', s.tcpPort!);
    const b = await TcpClient.connect('127.0.0.1', s.tcpPort!, 'binary');
    cleanups.push(() => a.close(), () => b.close());
    for (let i = 0; i < 20; i++) {
      expect(await a.request({ type: 'REGISTER_MODEL', operator_id: 'Op-01', metadata: { version: `M-X-${i}` } })).toMatchObject({ status: 'OK' });
      expect(await b.request({ type: 'GET_MODEL', version: `M-X-${i}`, operator_id: 'Op-02' })).toMatchObject({ status: 'OK' });
    }
    expect(await a.request({ type: 'EMERGENCY_LOCKDOWN', operator_id: 'Op-01' })).toMatchObject({ status: 'OK' });
    expect(await b.request({ agent_id: 'x', state: {} })).toMatchObject({ intent: 'STOP', policy_source: 'LOCKDOWN' });
  });
});
