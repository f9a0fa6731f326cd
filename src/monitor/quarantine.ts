// The quarantine on disk: blocked experiences and rejected inputs, one JSON
// object per line, in append-only files quarantine/q-NNNNNN.jsonl rotated at
// `maxFileBytes`. An entry's id is "<file number>:<line>". Writes are
// buffered and flushed every 100 ms (and at close): quarantine is evidence
// for operators, not an acknowledgement, so it is not fsynced per entry; a
// kill -9 can lose the last 100 ms of it (documented).
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { QuarantineEntry, QuarantineReason, QuarantineSink } from '../engine/experience.js';

const FILE = /^q-(\d{6})\.jsonl$/;
const MAX_FIELD = 4096;

export interface StoredEntry extends QuarantineEntry {
  id: string;
}

/** Keeps a value for the file but bounds its size (hostile payloads can be huge). */
function bounded(v: unknown): unknown {
  let text: string | undefined;
  try { text = JSON.stringify(v); } catch { return '[unserialisable]'; }
  if (text === undefined) return null;
  return text.length > MAX_FIELD ? { truncated: true, bytes: text.length, head: text.slice(0, MAX_FIELD) } : v;
}

export class FileQuarantine implements QuarantineSink {
  readonly byReason = new Map<QuarantineReason, number>();
  total = 0;
  private file = 1;
  private line = 0;
  private bytes = 0;
  private buffer: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(readonly dir: string, private readonly maxFileBytes = 8 << 20) {
    mkdirSync(dir, { recursive: true });
    const files = readdirSync(dir).filter((f) => FILE.test(f)).sort();
    for (const f of files) {
      for (const l of readFileSync(join(dir, f), 'utf8').split('\n')) {
        if (!l) continue;
        try { const e = JSON.parse(l) as QuarantineEntry; this.count(e.reason); } catch { /* a torn line */ }
      }
    }
    if (files.length > 0) {
      const last = files[files.length - 1];
      this.file = Number(FILE.exec(last)![1]);
      const text = readFileSync(join(dir, last), 'utf8');
      this.bytes = Buffer.byteLength(text);
      this.line = text.split('\n').filter(Boolean).length;
    }
  }

  private count(r: QuarantineReason): void {
    this.total++;
    this.byReason.set(r, (this.byReason.get(r) ?? 0) + 1);
  }

  private path(n = this.file): string {
    return join(this.dir, `q-${String(n).padStart(6, '0')}.jsonl`);
  }

  put(e: QuarantineEntry): void {
    this.count(e.reason);
    if (this.bytes >= this.maxFileBytes) { this.flushNow(); this.file++; this.line = 0; this.bytes = 0; }
    this.line++;
    const text = JSON.stringify({ id: `${this.file}:${this.line}`, ...e, intent_taken: bounded(e.intent_taken), result: bounded(e.result) }) + '\n';
    this.bytes += Buffer.byteLength(text);
    this.buffer.push(text);
    this.timer ??= setTimeout(() => { this.timer = undefined; this.flush(); }, 100);
  }

  private flush(): void {
    if (this.buffer.length === 0) return;
    const data = this.buffer.join('');
    const path = this.path();
    this.buffer = [];
    this.writing = this.writing.then(() => appendFile(path, data)).catch(() => { /* disk errors surface through the audit log */ });
  }

  /** Synchronous flush (rotation, close). */
  private flushNow(): void {
    if (this.buffer.length === 0) return;
    try { appendFileSync(this.path(), this.buffer.join('')); } catch { /* as above */ }
    this.buffer = [];
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
    await this.writing;
  }
}

/** All entries of a quarantine directory, oldest first (for the CLI). */
export function readQuarantine(dir: string): StoredEntry[] {
  if (!existsSync(dir)) return [];
  const out: StoredEntry[] = [];
  for (const f of readdirSync(dir).filter((x) => FILE.test(x)).sort()) {
    for (const l of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!l) continue;
      try { out.push(JSON.parse(l) as StoredEntry); } catch { /* a torn line */ }
    }
  }
  return out;
}

export function quarantineSize(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir).filter((x) => FILE.test(x)).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}
