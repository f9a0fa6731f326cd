// The append-only audit log: one JSON record per line in <data>/audit/audit.log.
//
// append() seals a record at once (its seq and prev are fixed in call order)
// and resolves only when the record is on disk. Records appended while a
// write is in progress wait and go out together in the next write with one
// fdatasync (group commit), so a burst of commands costs one sync, not one
// each. A failed write rejects every record not yet durable and rolls the
// chain back to the last durable one: nothing that was not acknowledged
// remains in memory.
//
// At start-up (open): a last line without its newline is a torn write (the
// process died mid-append); it is cut off and the cut is itself audited. Any
// other mismatch is tampering: open() reports it, the caller locks down.
//
// After every group commit the head (seq, hash) is checkpointed to
// audit.log.head (anchor.ts), so records cut off the end of the log — which
// leaves a valid, shorter chain — are tampering too. Once open() has found
// the log tampered, the anchor is left as it was for the life of the process:
// re-anchoring onto a cut log would erase the evidence.
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { SidecarError } from '../errors.js';
import { ensureDir, fsyncDir } from '../store/atomic-file.js';
import { GENESIS, seal, verifyChain, verifyChainAsync, type AuditRecord, type VerifyResult } from './chain.js';
import { AnchorFile, anchorPath, checkAnchor, readAnchor } from './anchor.js';

export interface OpenedLog {
  log: AuditLog;
  /** Bytes cut off a torn last line, 0 when none. */
  tornBytes: number;
  verify: VerifyResult;
}

interface Pending {
  line: string;
  record: AuditRecord;
  resolve: (r: AuditRecord) => void;
  reject: (e: unknown) => void;
}

export class AuditLog {
  private seq: number;
  private head: string;
  private durableSeq: number;
  private durableHead: string;
  private queue: Pending[] = [];
  private writing = false;
  private closed = false;
  /** Group-commit writes made (one write and one fdatasync each). */
  writes = 0;
  /** Anchor writes that failed (the records were durable in the log; the anchor lags). */
  anchorErrors = 0;
  /** Called when a write fails (disk full, I/O error). */
  onWriteError: (e: Error) => void = () => {};
  /**
   * Observers of every record once its fate is known: durable, or lost with a
   * failed write (after onWriteError). The structured log is derived from them
   * (mode changes, incidents): the audit is the one place every change passes.
   */
  private readonly observers: Array<(r: AuditRecord, durable: boolean) => void> = [];

  private constructor(readonly path: string, private fh: FileHandle, seq: number, head: string, private readonly clock: () => number,
    private readonly anchor: AnchorFile, private readonly anchorFrozen: boolean) {
    this.seq = this.durableSeq = seq;
    this.head = this.durableHead = head;
  }

  static async open(dir: string, clock: () => number = Date.now): Promise<OpenedLog> {
    await ensureDir(dir);
    const path = join(dir, 'audit.log');
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    let tornBytes = 0;
    const cut = text.lastIndexOf('\n') + 1;
    if (cut < text.length) {
      tornBytes = Buffer.byteLength(text.slice(cut));
      const h = await open(path, 'r+');
      await h.truncate(Buffer.byteLength(text.slice(0, cut)));
      await h.sync();
      await h.close();
      text = text.slice(0, cut);
    }
    const records = parseLines(text);
    const headPath = anchorPath(path);
    const anchored = await readAnchor(headPath);
    const verify = checkAnchor(records, verifyChain(records), anchored);
    // Appends continue from the last line as written, so a tampered log stays
    // detectably tampered rather than being silently re-based.
    const last = records[records.length - 1] as AuditRecord | undefined;
    const seq = typeof last?.seq === 'number' ? last.seq : records.length;
    const head = typeof last?.hash === 'string' ? last.hash : verify.head;
    const fh = await open(path, 'a', 0o600);
    const anchor = await AnchorFile.open(headPath);
    // A log from before anchors existed (or whose anchor was never written)
    // is anchored from now on.
    if (verify.ok && anchored === null && records.length > 0) await anchor.write({ seq, hash: head });
    await fsyncDir(dir);
    return { log: new AuditLog(path, fh, seq, head, clock, anchor, !verify.ok), tornBytes, verify };
  }

  get length(): number {
    return this.durableSeq;
  }

  get headHash(): string {
    return this.durableHead;
  }

  /** Appends a record; resolves when it is durable. */
  append(kind: string, operatorId: string | null, payload: unknown): Promise<AuditRecord> {
    if (this.closed) return Promise.reject(new SidecarError('E_DISK', 'the audit log is closed'));
    const record = seal({ seq: this.seq + 1, ts: new Date(this.clock()).toISOString(), kind, operator_id: operatorId, payload, prev: this.head });
    this.seq = record.seq;
    this.head = record.hash;
    return new Promise<AuditRecord>((resolve, reject) => {
      this.queue.push({ line: JSON.stringify(record) + '\n', record, resolve, reject });
      if (!this.writing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.writing = true;
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      try {
        await this.fh.write(batch.map((p) => p.line).join(''));
        await this.fh.datasync();
      } catch (e) {
        // Nothing of this batch, nor anything sealed after it, is durable.
        const rest = [...batch, ...this.queue];
        this.queue = [];
        this.seq = this.durableSeq;
        this.head = this.durableHead;
        const err = new SidecarError('E_DISK', `audit write failed: ${(e as Error).message}`, { errno: (e as NodeJS.ErrnoException).code });
        for (const p of rest) p.reject(err);
        this.onWriteError(err);
        this.notify(rest.map((p) => p.record), false);
        break;
      }
      this.writes++;
      const last = batch[batch.length - 1].record;
      this.durableSeq = last.seq;
      this.durableHead = last.hash;
      if (!this.anchorFrozen) {
        try {
          await this.anchor.write({ seq: last.seq, hash: last.hash });
        } catch (e) {
          // The records are durable in the log and stay acknowledged; only
          // the anchor lags. The disk is failing all the same: say so.
          this.anchorErrors++;
          this.onWriteError(new SidecarError('E_DISK', `audit head anchor write failed: ${(e as Error).message}`, { errno: (e as NodeJS.ErrnoException).code }));
        }
      }
      for (const p of batch) p.resolve(p.record);
      this.notify(batch.map((p) => p.record), true);
    }
    this.writing = false;
  }

  /** Adds an observer (see `observers`); it must not throw, and must not append synchronously. */
  observe(fn: (r: AuditRecord, durable: boolean) => void): void {
    this.observers.push(fn);
  }

  private notify(records: AuditRecord[], durable: boolean): void {
    for (const fn of this.observers) for (const r of records) {
      try { fn(r, durable); } catch { /* an observer's bug must not break the audit */ }
    }
  }

  /** Waits for every pending append. */
  async drain(): Promise<void> {
    while (this.writing || this.queue.length > 0) await new Promise((r) => setImmediate(r));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.drain();
    this.closed = true;
    await this.fh.close();
    await this.anchor.close();
  }
}

/** Every line of a log as parsed JSON (a line that does not parse is kept as a string, which never verifies). */
export function parseLines(text: string): unknown[] {
  const out: unknown[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      out.push(line);
    }
  }
  return out;
}

/**
 * Reads and verifies a log file (VERIFY_AUDIT, `shadowpath audit verify`),
 * against its anchored head (`<path>.head`) when there is one.
 */
export async function verifyLogFile(path: string): Promise<VerifyResult & { records: AuditRecord[] }> {
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  const records = parseLines(complete);
  const v = checkAnchor(records, await verifyChainAsync(records), await readAnchor(anchorPath(path)));
  return { ...v, records: records as AuditRecord[] };
}

export { GENESIS };
