// The audit chain: pure functions. A record carries the hash of the one
// before it; its own hash is SHA-256 over a canonical encoding of every field
// but `hash` (so `prev` is covered). Canonical = JSON with object keys sorted
// at every level, no whitespace; numbers as JSON prints them. Changing any
// byte of any record, removing, reordering or inserting one breaks the chain
// at the first record affected.
import { createHash } from 'node:crypto';

export const GENESIS = '0'.repeat(64);

export interface AuditRecord {
  seq: number;
  ts: string;
  kind: string;
  operator_id: string | null;
  payload: unknown;
  prev: string;
  hash: string;
}

export type UnsealedRecord = Omit<AuditRecord, 'hash'>;

export function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'number' && !Number.isFinite(v)) return 'null';
    return JSON.stringify(v) ?? 'null';
  }
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonical(o[k])).join(',') + '}';
}

export function hashRecord(r: UnsealedRecord): string {
  const { seq, ts, kind, operator_id, payload, prev } = r;
  return createHash('sha256').update(canonical({ seq, ts, kind, operator_id, payload, prev })).digest('hex');
}

export function seal(r: UnsealedRecord): AuditRecord {
  return { ...r, hash: hashRecord(r) };
}

export interface VerifyResult {
  ok: boolean;
  length: number;
  head: string;
  /** The first record that does not verify (index in the log), with why. */
  firstBad?: { index: number; seq: number | null; reason: string };
}

/** Verifies a sequence of records from the genesis hash. */
export function verifyChain(records: ReadonlyArray<unknown>): VerifyResult {
  const r = verifyRange(records, 0, records.length, GENESIS);
  return typeof r === 'string' ? { ok: true, length: records.length, head: r } : r;
}

/**
 * The same, yielding to the event loop every `slice` records, so verifying a
 * long log in a serving process does not hold up cycles.
 */
export async function verifyChainAsync(records: ReadonlyArray<unknown>, slice = 2000): Promise<VerifyResult> {
  let prev = GENESIS;
  for (let from = 0; from < records.length; from += slice) {
    const r = verifyRange(records, from, Math.min(records.length, from + slice), prev);
    if (typeof r !== 'string') return r;
    prev = r;
    await new Promise((res) => setImmediate(res));
  }
  return { ok: true, length: records.length, head: prev };
}

/** Verifies records[from, to) after `prevIn`: the new head on success, the failure otherwise. */
function verifyRange(records: ReadonlyArray<unknown>, from: number, to: number, prevIn: string): VerifyResult | string {
  let prev = prevIn;
  for (let i = from; i < to; i++) {
    const r = records[i] as AuditRecord;
    const seq = typeof r?.seq === 'number' ? r.seq : null;
    const bad = (reason: string): VerifyResult => ({ ok: false, length: records.length, head: prev, firstBad: { index: i, seq, reason } });
    if (typeof r !== 'object' || r === null) return bad('not a record');
    if (r.seq !== i + 1) return bad(`sequence number ${String(r.seq)} where ${i + 1} was expected`);
    if (r.prev !== prev) return bad('prev does not match the hash of the record before');
    if (typeof r.hash !== 'string' || hashRecord(r) !== r.hash) return bad('hash does not match the record');
    prev = r.hash;
  }
  return prev;
}
