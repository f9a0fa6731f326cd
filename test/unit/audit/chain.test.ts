// The tamper matrix on a small log: every record × {byte flip, deletion,
// reorder, insertion} is detected, and the first bad record is named.
import { describe, it, expect } from 'vitest';
import { seal, verifyChain, verifyChainAsync, canonical, hashRecord, GENESIS, type AuditRecord } from '../../../src/audit/chain.js';
import { checkAnchor, encodeAnchor } from '../../../src/audit/anchor.js';

function makeLog(n: number): AuditRecord[] {
  const out: AuditRecord[] = [];
  let prev = GENESIS;
  for (let i = 1; i <= n; i++) {
    const r = seal({ seq: i, ts: `2026-11-26T00:00:0${i % 10}Z`, kind: 'COMMAND', operator_id: `Op-${i % 3}`, payload: { type: 'HEARTBEAT', n: i, nested: { b: 2, a: [1, 'x'] } }, prev });
    out.push(r);
    prev = r.hash;
  }
  return out;
}

/** Flips one bit of one byte of the record's JSON line and parses it back (a flip that breaks the JSON is a string). */
function flip(r: AuditRecord, byte: number): unknown {
  const line = Buffer.from(JSON.stringify(r));
  line[byte % line.length] ^= 0x01;
  try { return JSON.parse(line.toString('latin1')); } catch { return line.toString('latin1'); }
}

describe('audit chain', () => {
  const N = 8;
  const log = makeLog(N);

  it('verifies an intact log and reports its head', () => {
    const v = verifyChain(log);
    expect(v).toMatchObject({ ok: true, length: N, head: log[N - 1].hash });
  });

  it('encodes canonically: key order does not change a hash', () => {
    expect(canonical({ b: 1, a: { d: [1, { z: 0, y: 1 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"y":1,"z":0}]},"b":1}');
  });

  for (let i = 0; i < N; i++) {
    it(`detects a byte flip anywhere in record ${i + 1} and names it`, () => {
      const len = JSON.stringify(log[i]).length;
      for (let b = 0; b < len; b += 7) {
        const t = [...log];
        t[i] = flip(log[i], b) as AuditRecord;
        if (JSON.stringify(t[i]) === JSON.stringify(log[i])) continue; // a flip inside an escape can round-trip; none here, but be exact
        const v = verifyChain(t);
        expect(v.ok, `flip at byte ${b}`).toBe(false);
        expect(v.firstBad!.index).toBe(i);
      }
    });

    it(`detects the deletion of record ${i + 1}`, () => {
      const t = log.filter((_, j) => j !== i);
      const chain = verifyChain(t);
      // With the anchored head the log checkpoints (audit.log.head).
      const v = checkAnchor(t, chain, { seq: N, hash: log[N - 1].hash });
      expect(v.ok).toBe(false);
      if (i === N - 1) {
        // Cutting the last record leaves a valid shorter chain: the chain
        // alone cannot see it, the anchor does, and names the missing seq.
        expect(chain.ok).toBe(true);
        expect(v.firstBad).toMatchObject({ index: N - 1, seq: N });
      } else {
        expect(chain.ok).toBe(false);
        expect(v.firstBad!.index).toBe(i);
      }
    });

    if (i < N - 1) {
      it(`detects swapping records ${i + 1} and ${i + 2}`, () => {
        const t = [...log];
        [t[i], t[i + 1]] = [t[i + 1], t[i]];
        const v = verifyChain(t);
        expect(v.ok).toBe(false);
        expect(v.firstBad!.index).toBe(i);
      });
    }

    it(`detects an insertion before record ${i + 1}, even a well-formed re-sealed one`, () => {
      const forged = seal({ seq: i + 1, ts: 'x', kind: 'COMMAND', operator_id: 'mallory', payload: {}, prev: i === 0 ? GENESIS : log[i - 1].hash });
      const t = [...log.slice(0, i), forged, ...log.slice(i)];
      const v = verifyChain(t);
      expect(v.ok).toBe(false);
      expect(v.firstBad!.index).toBe(i + 1); // the forged record chains; the original after it no longer does
    });
  }

  describe('anchored head', () => {
    it('accepts the intact log, a lagging anchor (a kill -9 between the log and the anchor), and no anchor', () => {
      expect(checkAnchor(log, verifyChain(log), { seq: N, hash: log[N - 1].hash })).toMatchObject({ ok: true, length: N });
      expect(checkAnchor(log, verifyChain(log), { seq: 3, hash: log[2].hash })).toMatchObject({ ok: true, length: N });
      expect(checkAnchor(log, verifyChain(log), null)).toMatchObject({ ok: true, length: N });
      expect(checkAnchor([], verifyChain([]), { seq: 0, hash: GENESIS })).toMatchObject({ ok: true, length: 0 });
    });

    it('detects several records cut off the end, and an emptied log', () => {
      const v = checkAnchor(log.slice(0, 5), verifyChain(log.slice(0, 5)), { seq: N, hash: log[N - 1].hash });
      expect(v).toMatchObject({ ok: false, firstBad: { index: 5, seq: 6 } });
      expect(v.firstBad!.reason).toContain(`seq ${N}`);
      expect(checkAnchor([], verifyChain([]), { seq: 1, hash: log[0].hash })).toMatchObject({ ok: false, firstBad: { index: 0, seq: 1 } });
    });

    it('detects a log re-sealed from the anchored seq on (another record with a valid chain)', () => {
      const forged = [...log.slice(0, N - 1), seal({ ...log[N - 1], operator_id: 'mallory' })];
      expect(verifyChain(forged).ok).toBe(true);
      expect(checkAnchor(forged, verifyChain(forged), { seq: N, hash: log[N - 1].hash })).toMatchObject({ ok: false, firstBad: { index: N - 1, seq: N } });
    });

    it('treats an unreadable anchor as tampering, and reports a broken chain before the anchor', () => {
      expect(checkAnchor(log, verifyChain(log), 'unreadable')).toMatchObject({ ok: false, firstBad: { index: N, seq: null } });
      const t = [...log];
      t[2] = { ...t[2], kind: 'X' };
      expect(checkAnchor(t, verifyChain(t), { seq: N + 5, hash: 'f'.repeat(64) })).toMatchObject({ ok: false, firstBad: { index: 2, seq: 3 } });
    });

    it('encodes the anchor as one line of fixed length', () => {
      const a = encodeAnchor({ seq: 1, hash: log[0].hash });
      const b = encodeAnchor({ seq: 123_456_789, hash: log[7].hash });
      expect(a.length).toBe(128);
      expect(b.length).toBe(128);
      expect(a.at(-1)).toBe(10);
      expect(JSON.parse(a.toString())).toMatchObject({ seq: 1, hash: log[0].hash });
    });
  });

  describe('the checks, each on its own', () => {
    it('starts from a genesis of 64 zeros (the file format: the first record\'s prev)', () => {
      expect(GENESIS).toBe('0'.repeat(64));
      expect(log[0].prev).toBe('0'.repeat(64));
    });

    it('names a line that is not a record', () => {
      for (const junk of [null, 'torn {"seq":1', 42]) {
        const v = verifyChain([...log.slice(0, 2), junk, ...log.slice(3)]);
        expect(v).toMatchObject({ ok: false, firstBad: { index: 2, seq: null, reason: 'not a record' } });
      }
    });

    it('catches a wrong seq even when prev and hash are consistent (re-sealed)', () => {
      const t = [...log];
      t[3] = seal({ ...log[3], seq: 9 });
      t[4] = seal({ ...log[4], prev: t[3].hash });
      const v = verifyChain(t);
      expect(v).toMatchObject({ ok: false, firstBad: { index: 3, seq: 9 } });
      expect(v.firstBad!.reason).toBe('sequence number 9 where 4 was expected');
    });

    it('reports a seq that is not a number as null', () => {
      const t = [...log];
      t[1] = { ...log[1], seq: '2' as unknown as number };
      expect(verifyChain(t)).toMatchObject({ ok: false, firstBad: { index: 1, seq: null } });
    });

    it('catches a wrong prev even when seq and hash are consistent (re-sealed)', () => {
      const t = [...log];
      t[5] = seal({ ...log[5], prev: 'a'.repeat(64) });
      const v = verifyChain(t);
      expect(v).toMatchObject({ ok: false, firstBad: { index: 5, seq: 6, reason: 'prev does not match the hash of the record before' } });
      expect(v.head).toBe(log[4].hash); // the head of the part that verified
    });

    it('catches an edited field whose seq and prev still fit (only the hash shows it)', () => {
      const t = [...log];
      t[6] = { ...log[6], operator_id: 'mallory' };
      expect(verifyChain(t)).toMatchObject({ ok: false, firstBad: { index: 6, seq: 7, reason: 'hash does not match the record' } });
      const u = [...log];
      u[6] = { ...log[6], hash: undefined as unknown as string };
      expect(verifyChain(u)).toMatchObject({ ok: false, firstBad: { index: 6, reason: 'hash does not match the record' } });
    });

    it('verifies in slices (the serving process) with the same result as at once', async () => {
      expect(await verifyChainAsync(log, 3)).toEqual(verifyChain(log));
      expect(await verifyChainAsync([], 3)).toEqual({ ok: true, length: 0, head: GENESIS });
      for (const i of [0, 2, 3, 7]) {
        const t = [...log];
        t[i] = { ...log[i], kind: 'EDITED' };
        const v = await verifyChainAsync(t, 3);
        expect(v).toEqual(verifyChain(t));
        expect(v).toMatchObject({ ok: false, firstBad: { index: i } });
      }
    });
  });

  describe('canonical encoding', () => {
    it('writes non-finite numbers and undefined as null, as JSON does', () => {
      expect(canonical(NaN)).toBe('null');
      expect(canonical(-Infinity)).toBe('null');
      expect(canonical(undefined)).toBe('null');
      expect(canonical([1, undefined, Infinity])).toBe('[1,null,null]');
    });

    it('drops undefined fields, so a record hashes the same after a JSON round trip', () => {
      expect(canonical({ a: undefined, b: 1 })).toBe('{"b":1}');
      const r = seal({ seq: 1, ts: 't', kind: 'K', operator_id: null, payload: { gone: undefined, kept: [1] }, prev: GENESIS });
      const back = JSON.parse(JSON.stringify(r)) as AuditRecord;
      expect(hashRecord(back)).toBe(r.hash);
      expect(verifyChain([back]).ok).toBe(true);
    });
  });
});
