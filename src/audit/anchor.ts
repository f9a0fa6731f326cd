// The anchored head of the audit log: <data>/audit/audit.log.head holds the
// seq and hash of the last record known durable. The chain alone cannot show
// that records were cut off its end — a shorter chain is still a valid chain
// — so the log checkpoints its head here after every group commit, and
// start-up verification (and VERIFY_AUDIT, `shadowpath audit verify`) checks
// the log against it: a log that ends before the anchored seq, or whose
// record at that seq has another hash, is tampering.
//
// Order: the log's fdatasync first, then the anchor. So the anchor never
// names a record that is not durable, and after a kill -9 it may lag the log
// by the last group commit (a lagging anchor is fine: the records after it
// chain onto it). A torn last line, which start-up cuts, is never anchored.
//
// The file is one line of fixed length, rewritten in place with a single
// write(2) at offset 0 — no rename, and a 128-byte write is not cut halfway
// by a kill -9. It is not fdatasynced per commit (only at close): a write
// that returned is in the page cache, which a crashed process cannot lose,
// and after a power cut an anchor that did not reach the disk only lags,
// which is allowed. So a commit costs one sync, the log's, as before. Like
// the chain, the anchor carries no key: it catches truncation and naive
// edits, not an attacker who rewrites both files.
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { constants } from 'node:fs';
import type { AuditRecord, VerifyResult } from './chain.js';

export const ANCHOR_FORMAT = 'shadowpath-audit-head/1';
const ANCHOR_BYTES = 128;

export interface Anchor {
  seq: number;
  hash: string;
}

export function anchorPath(logPath: string): string {
  return `${logPath}.head`;
}

export function encodeAnchor(a: Anchor): Buffer {
  const line = JSON.stringify({ format: ANCHOR_FORMAT, seq: a.seq, hash: a.hash });
  return Buffer.from(line.padEnd(ANCHOR_BYTES - 1, ' ') + '\n');
}

/**
 * The anchor in a file: null when there is none (a log written before
 * anchors existed, or an empty log), 'unreadable' when the file is there but
 * is not an anchor.
 */
export async function readAnchor(path: string): Promise<Anchor | null | 'unreadable'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  if (text.trim() === '') return null; // created, never written: nothing was anchored
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    if (o.format === ANCHOR_FORMAT && Number.isInteger(o.seq) && (o.seq as number) >= 0 && typeof o.hash === 'string') {
      return { seq: o.seq as number, hash: o.hash };
    }
  } catch { /* fall through */ }
  return 'unreadable';
}

/**
 * Checks a verified chain against its anchor. `v` is the chain's own
 * verification; a chain already broken keeps its first bad record (it comes
 * first in the file). Pure.
 */
export function checkAnchor(records: ReadonlyArray<unknown>, v: VerifyResult, anchor: Anchor | null | 'unreadable'): VerifyResult {
  if (!v.ok || anchor === null) return v;
  if (anchor === 'unreadable') {
    return { ...v, ok: false, firstBad: { index: records.length, seq: null, reason: 'the anchored head (audit.log.head) is unreadable' } };
  }
  if (anchor.seq === 0) return v;
  if (records.length < anchor.seq) {
    return {
      ...v, ok: false,
      firstBad: { index: records.length, seq: records.length + 1, reason: `the log ends at seq ${records.length} but its anchored head is seq ${anchor.seq}: records were cut off its end` },
    };
  }
  const at = records[anchor.seq - 1] as AuditRecord;
  if (at.hash !== anchor.hash) {
    return { ...v, ok: false, firstBad: { index: anchor.seq - 1, seq: anchor.seq, reason: 'the record at the anchored seq does not have the anchored hash' } };
  }
  return v;
}

/** The writer side: one file handle, rewritten in place. */
export class AnchorFile {
  private constructor(private readonly fh: FileHandle) {}

  static async open(path: string): Promise<AnchorFile> {
    // Not 'w' (it would truncate the anchor before the first write) nor 'a'
    // (appends ignore the position): read-write, created when missing.
    return new AnchorFile(await open(path, constants.O_RDWR | constants.O_CREAT, 0o600));
  }

  /** Rewrites the anchor in place (no sync: see the top of this file). */
  async write(a: Anchor): Promise<void> {
    const b = encodeAnchor(a);
    await this.fh.write(b, 0, b.length, 0);
  }

  /** Makes the last anchor durable (best effort: if not, it only lags), then closes. */
  async close(): Promise<void> {
    await this.fh.datasync().catch(() => {});
    await this.fh.close();
  }
}
