import { describe, it, expect, afterEach } from 'vitest';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditLog, verifyLogFile } from '../../../src/audit/log.js';
import { tmpDir } from '../../helpers/tmp.js';

let cleanups: Array<() => void> = [];
afterEach(() => { cleanups.forEach((c) => c()); cleanups = []; });
const dir = () => { const t = tmpDir(); cleanups.push(t.cleanup); return t.dir; };

describe('AuditLog', () => {
  it('appends durable, chained records in call order (a burst shares one write)', async () => {
    const d = dir();
    const { log, verify } = await AuditLog.open(d);
    expect(verify.ok).toBe(true);
    const recs = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append('COMMAND', 'Op-01', { i })));
    expect(recs.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(log.length).toBe(50);
    expect(log.headHash).toBe(recs[49].hash);
    await log.close();
    const v = await verifyLogFile(join(d, 'audit.log'));
    expect(v).toMatchObject({ ok: true, length: 50, head: recs[49].hash });
  });

  it('continues the chain across a reopen', async () => {
    const d = dir();
    const a = await AuditLog.open(d);
    await a.log.append('X', null, 1);
    await a.log.close();
    const b = await AuditLog.open(d);
    expect(b.verify.ok).toBe(true);
    const r = await b.log.append('Y', null, 2);
    expect(r.seq).toBe(2);
    await b.log.close();
    expect((await verifyLogFile(join(d, 'audit.log'))).ok).toBe(true);
  });

  it('cuts a torn last line (an interrupted write) and reports the bytes', async () => {
    const d = dir();
    const a = await AuditLog.open(d);
    await a.log.append('X', null, 1);
    await a.log.close();
    appendFileSync(join(d, 'audit.log'), '{"seq":2,"ts":"2026-11-26T00:00:00Z","kind":"X","opera');
    const b = await AuditLog.open(d);
    expect(b.tornBytes).toBeGreaterThan(10);
    expect(b.verify.ok).toBe(true);
    expect((await b.log.append('Y', null, 2)).seq).toBe(2);
    await b.log.close();
    expect((await verifyLogFile(join(d, 'audit.log'))).ok).toBe(true);
  });

  it('reports tampering at open, naming the first bad record', async () => {
    const d = dir();
    const a = await AuditLog.open(d);
    for (let i = 0; i < 5; i++) await a.log.append('X', 'Op', { i });
    await a.log.close();
    const path = join(d, 'audit.log');
    writeFileSync(path, readFileSync(path, 'utf8').replace('"i":2', '"i":7'));
    const b = await AuditLog.open(d);
    expect(b.verify.ok).toBe(false);
    expect(b.verify.firstBad).toMatchObject({ index: 2, seq: 3 });
    await b.log.close();
  });
});
