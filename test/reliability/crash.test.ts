// Crash durability: the sidecar in a child process, commands and cycles sent
// to it, and SIGKILL at a random moment — often with requests in flight.
// After each restart: every acknowledged mutation is present, the audit
// chain verifies (at most a torn tail cut), an acknowledged lockdown is still
// on. CRASH_KILLS kills (20 in `npm test`, 200 in `npm run crash`).
import { describe, it, expect, afterAll } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { tmpDir } from '../helpers/tmp.js';
import { Child } from '../helpers/child.js';
import { verifyLogFile } from '../../src/audit/log.js';
import { rng } from '../helpers/rng.js';

const KILLS = Number(process.env.CRASH_KILLS ?? 20);
const t = tmpDir();
afterAll(() => t.cleanup());

describe(`crash durability (${KILLS} kill -9)`, () => {
  it('loses nothing acknowledged', { timeout: 120_000 + KILLS * 3000 }, async () => {
    const r = rng(7);
    const acked = new Set<string>();       // versions whose REGISTER_MODEL was acknowledged
    let lockAcked: boolean | null = null;  // the last acknowledged lockdown state
    // Lockdown states of mutations still unanswered at the kill: each may or
    // may not have taken effect (durable, but its reply never left).
    let lockInFlight: boolean[] = [];
    let torn = 0, cut = 0, version = 0;
    for (let k = 0; k < KILLS; k++) {
      const c = new Child(t.dir);
      const ready = await c.next();
      expect(ready, JSON.stringify(ready)).toMatchObject({ ready: true });
      // The previous life's acknowledgements must all be here.
      const hb = await c.send({ type: 'HEARTBEAT' });
      const have = new Set((hb.model_registry as Array<{ version: string }>).map((m) => m.version));
      for (const v of acked) expect(have.has(v), `acknowledged ${v} lost after kill ${k}`).toBe(true);
      const locked = (hb.lockdown as { active: boolean }).active;
      if (lockAcked !== null || lockInFlight.length > 0) {
        expect([lockAcked, ...lockInFlight], `lockdown after kill ${k}: ${locked}`).toContain(locked);
        lockAcked = locked;
      }
      lockInFlight = [];
      if ((hb.audit_metrics as { verified: boolean }).verified !== true) throw new Error(`audit chain broken after kill ${k}`);
      // This life: a random mix, some awaited (acknowledged), the rest in flight at the kill.
      const ops = 3 + Math.floor(r() * 12);
      const inflight: Array<Promise<unknown>> = [];
      const lockPending: Array<() => boolean | null> = [];
      for (let i = 0; i < ops; i++) {
        const x = r();
        const v = `V${version++}`;
        const send = (req: Record<string, unknown>) => c.send(req);
        let p: Promise<Record<string, unknown>>;
        if (x < 0.4) p = send({ type: 'REGISTER_MODEL', operator_id: 'crash', metadata: { version: v } }).then((a) => { if (a.status === 'OK') acked.add(v); return a; });
        else if (x < 0.55) p = send({ type: 'EMERGENCY_LOCKDOWN', operator_id: 'crash' }).then((a) => { if (a.status === 'OK') lockAcked = true; return a; });
        else if (x < 0.7) {
          p = send({ type: 'UNRELEASE_LOCKDOWN', operator_id: 'crash' }).then(async (a) => {
            if (a.status !== 'REQUIRED_CONFIRMATION') return a;
            const b = await send({ type: 'UNRELEASE_LOCKDOWN', operator_id: 'crash', confirmation_token: a.confirmation_token });
            if (b.status === 'OK') lockAcked = false;
            return b;
          });
        } else p = send({ agent_id: `a${i % 3}`, state: { health: r(), target_distance: r() * 50 } });
        const lockOp = x >= 0.4 && x < 0.7 ? x < 0.55 : null;
        if (r() < 0.7) await p;
        else {
          let answered = false;
          inflight.push(p.then(() => { answered = true; }, () => undefined));
          if (lockOp !== null) lockPending.push(() => (answered ? null : lockOp));
        }
      }
      // Kill at a random moment: now, or after a short random delay with requests in flight.
      if (r() < 0.5) await new Promise((res) => setTimeout(res, Math.floor(r() * 15)));
      await c.kill9();
      await Promise.all(inflight);
      for (const f of lockPending) { const v = f(); if (v !== null) lockInFlight.push(v); }
      lockPending.length = 0;
      // What the next start will find, looked at directly.
      const text = readFileSync(join(t.dir, 'audit', 'audit.log'), 'utf8');
      if (!text.endsWith('\n') && text.length > 0) torn++;
      const v = await verifyLogFile(join(t.dir, 'audit', 'audit.log'));
      expect(v.ok, `audit chain after kill ${k}: ${JSON.stringify(v.firstBad)}`).toBe(true);
    }
    // One last start to check the final kill, and count the truncations it audited.
    const c = new Child(t.dir);
    await c.next();
    const hb = await c.send({ type: 'HEARTBEAT' });
    for (const v of acked) expect((hb.model_registry as Array<{ version: string }>).some((m) => m.version === v)).toBe(true);
    if (lockAcked !== null || lockInFlight.length > 0) expect([lockAcked, ...lockInFlight]).toContain((hb.lockdown as { active: boolean }).active);
    c.proc.stdin!.write('exit\n');
    await c.exited;
    cut = readFileSync(join(t.dir, 'audit', 'audit.log'), 'utf8').split('\n').filter((l) => l.includes('"kind":"AUDIT_TAIL_TRUNCATED"')).length;
    expect(cut).toBe(torn);
    console.log(`crash: ${KILLS} kills, ${acked.size} acknowledged registrations all present, final lockdown ${lockAcked}, ${torn} torn audit tails (each cut and audited at start-up)`);
  });
});
