import { describe, it, expect, afterEach } from 'vitest';
import { appendFileSync, readFileSync, writeFileSync, truncateSync, existsSync } from 'node:fs';
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
    // The first append starts a write at once; the 49 appended while it is in
    // flight wait and go out together in the next one: two writes, not 50.
    const recs = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append('COMMAND', 'Op-01', { i })));
    expect(log.writes).toBe(2);
    expect(recs.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(log.length).toBe(50);
    // Sequential appends, each awaited, are one write each.
    await log.append('COMMAND', 'Op-01', { i: 50 });
    await log.append('COMMAND', 'Op-01', { i: 51 });
    expect(log.writes).toBe(4);
    expect(log.length).toBe(52);
    await log.close();
    const v2 = await verifyLogFile(join(d, 'audit.log'));
    expect(v2).toMatchObject({ ok: true, length: 52 });
    expect(v2.records.slice(0, 50).map((r) => r.hash)).toEqual(recs.map((r) => r.hash));
  });

  it('a burst of 50 records is 50 lines on disk, in seq order', async () => {
    const d = dir();
    const { log } = await AuditLog.open(d);
    const recs = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append('COMMAND', 'Op-01', { i })));
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

  it('anchors its head after every commit, and detects records cut off its end at the next open', async () => {
    const d = dir();
    const a = await AuditLog.open(d);
    for (let i = 0; i < 5; i++) await a.log.append('X', 'Op', { i });
    await a.log.close();
    const path = join(d, 'audit.log');
    expect(JSON.parse(readFileSync(`${path}.head`, 'utf8'))).toMatchObject({ seq: 5, hash: a.log.headHash });
    // Cut the last record: a valid, shorter chain.
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    writeFileSync(path, lines.slice(0, 4).join('\n') + '\n');
    const b = await AuditLog.open(d);
    expect(b.verify).toMatchObject({ ok: false, firstBad: { index: 4, seq: 5 } });
    expect((await verifyLogFile(path)).ok).toBe(false);
    // Appending after the tampered open does not re-anchor onto the cut log:
    // the evidence stays for the next start.
    await b.log.append('Y', null, 1);
    await b.log.close();
    expect(JSON.parse(readFileSync(`${path}.head`, 'utf8'))).toMatchObject({ seq: 5 });
    const c = await AuditLog.open(d);
    expect(c.verify.ok).toBe(false);
    expect(c.verify.firstBad).toMatchObject({ index: 4, seq: 5 });
    await c.log.close();
  });

  it('anchors a log written before anchors existed, from its next open', async () => {
    const d = dir();
    const a = await AuditLog.open(d);
    for (let i = 0; i < 3; i++) await a.log.append('X', 'Op', { i });
    await a.log.close();
    const path = join(d, 'audit.log');
    truncateSync(`${path}.head`, 0); // as a data directory from before anchors would be
    const b = await AuditLog.open(d);
    expect(b.verify.ok).toBe(true);
    expect(JSON.parse(readFileSync(`${path}.head`, 'utf8'))).toMatchObject({ seq: 3, hash: a.log.headHash });
    await b.log.close();
    expect(existsSync(`${path}.head`)).toBe(true);
  });

  it('treats an anchor that is not one as tampering', async () => {
    const d = dir();
    const a = await AuditLog.open(d);
    await a.log.append('X', 'Op', 1);
    await a.log.close();
    writeFileSync(join(d, 'audit.log.head'), '{"seq": "lots"}\n');
    const b = await AuditLog.open(d);
    expect(b.verify).toMatchObject({ ok: false, firstBad: { index: 1, seq: null } });
    await b.log.close();
  });
});
