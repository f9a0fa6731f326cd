// Request framing for the TCP transport (docs/PROTOCOL.md §1): newline-
// delimited JSON, or, after the 4-byte preface 0xC1 'M' 'P' '1', frames of a
// 4-byte big-endian length and one MessagePack object. Partial frames are kept
// for the next chunk, as msgpackr keeps an incomplete buffer, instead of
// failing the stream.
import { StringDecoder } from 'node:string_decoder';
import { unpack } from './codec.js';
import type { ErrorCode } from '../errors.js';

export const BINARY_PREFACE = Buffer.from([0xc1, 0x4d, 0x50, 0x31]);

export interface Limits {
  /** Bytes of one request at most. */
  maxRequestBytes: number;
  /** Nesting of objects and arrays at most. */
  maxDepth: number;
}

export const DEFAULT_LIMITS: Limits = { maxRequestBytes: 1 << 20, maxDepth: 32 };

/** `bare`: a JSON object that arrived without its newline (a client of the original runbook system, see tcp.ts). */
export type Decoded = { ok: true; value: unknown; bare?: boolean } | { ok: false; code: ErrorCode; message: string };

/** Deepest nesting of a JSON text, scanning outside strings; stops early past `limit`. */
export function jsonDepth(text: string, limit: number): number {
  let depth = 0, max = 0, inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inStr) {
      if (c === 92) i++; // backslash: skip the escaped char
      else if (c === 34) inStr = false;
      continue;
    }
    if (c === 34) inStr = true;
    else if (c === 123 || c === 91) { if (++depth > max) { max = depth; if (max > limit) return max; } }
    else if (c === 125 || c === 93) depth--;
  }
  return max;
}

/** Deepest nesting of a decoded value (iterative, stops early past `limit`). */
export function valueDepth(v: unknown, limit: number): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[v, 1]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (typeof x !== 'object' || x === null || ArrayBuffer.isView(x)) continue;
    if (d > max) { max = d; if (max > limit) return max; }
    for (const c of Array.isArray(x) ? x : Object.values(x)) if (typeof c === 'object' && c !== null) stack.push([c, d + 1]);
  }
  return max;
}

/**
 * Whether `text` holds more than `limit` opening brackets, by native
 * indexOf (docs/CPU.md): nesting deeper than `limit` needs more than `limit`
 * of them, so a request with few (every cycle) skips the char-by-char scan.
 */
function manyBrackets(text: string, limit: number): boolean {
  let n = 0;
  for (let i = text.indexOf('{'); i >= 0; i = text.indexOf('{', i + 1)) if (++n > limit) return true;
  for (let i = text.indexOf('['); i >= 0; i = text.indexOf('[', i + 1)) if (++n > limit) return true;
  return false;
}

export function parseJsonRequest(text: string, limits: Limits): Decoded {
  if (manyBrackets(text, limits.maxDepth) && jsonDepth(text, limits.maxDepth) > limits.maxDepth) return { ok: false, code: 'E_TOO_DEEP', message: `nesting deeper than ${limits.maxDepth}` };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, code: 'E_BAD_JSON', message: `not valid JSON: ${(e as Error).message.slice(0, 120)}` };
  }
}

export function parseMsgpackRequest(bytes: Uint8Array, limits: Limits): Decoded {
  let value: unknown;
  try {
    value = unpack(bytes);
  } catch (e) {
    return { ok: false, code: 'E_BAD_MSGPACK', message: `not one valid MessagePack object: ${(e as Error).message.slice(0, 120)}` };
  }
  if (valueDepth(value, limits.maxDepth) > limits.maxDepth) return { ok: false, code: 'E_TOO_DEEP', message: `nesting deeper than ${limits.maxDepth}` };
  return { ok: true, value };
}

/**
 * Newline-delimited JSON. A line that is complete is a request. Bytes with no
 * newline yet that parse as one whole JSON object are a request too (clients
 * of the original runbook system send one object and wait). Invalid UTF-8
 * never parses: the decoder turns it into U+FFFD, which JSON.parse refuses
 * outside strings and which is kept as such inside them.
 */
export class JsonLineDecoder {
  private buf = '';
  private readonly utf8 = new StringDecoder('utf8');
  constructor(private readonly limits: Limits) {}

  push(chunk: Buffer): Decoded[] {
    const text = this.utf8.write(chunk);
    // Where the search for a newline starts: the part of the buffer kept
    // from earlier chunks holds none (docs/CPU.md: no rescanning).
    let from = this.buf.length;
    this.buf = from === 0 ? text : this.buf + text;
    const buf = this.buf;
    const out: Decoded[] = [];
    let start = 0, nl: number;
    while ((nl = buf.indexOf('\n', from)) >= 0) {
      const end = nl > start && buf.charCodeAt(nl - 1) === 13 ? nl - 1 : nl; // a \r before the \n is not part of the line
      from = nl + 1;
      const line = buf.slice(start, end);
      start = from;
      if (line.trim() === '') continue;
      // UTF-8 takes at most 3 bytes per UTF-16 unit: count bytes only for a line that might be over.
      if (line.length * 3 > this.limits.maxRequestBytes && Buffer.byteLength(line) > this.limits.maxRequestBytes) out.push(tooLarge(this.limits));
      else out.push(parseJsonRequest(line, this.limits));
    }
    this.buf = start === 0 ? buf : start >= buf.length ? '' : buf.slice(start);
    if (this.buf.length > 0) {
      if (this.buf.length * 3 > this.limits.maxRequestBytes && Buffer.byteLength(this.buf) > this.limits.maxRequestBytes) {
        this.buf = '';
        out.push(tooLarge(this.limits));
      } else if (text.length > 0) {
        // Only when this chunk added bytes: a partial line rechecked on every chunk would be rescanned each time.
        const t = this.buf.trimEnd();
        if (t.endsWith('}') && t.trimStart().startsWith('{')) {
          const r = parseJsonRequest(t, this.limits);
          if (r.ok) { this.buf = ''; out.push({ ...r, bare: true }); }
        }
      }
    }
    return out;
  }

  /** Whether bytes of a request without its newline are waiting (whitespace aside). */
  hasPartial(): boolean {
    return /\S/.test(this.buf);
  }

  /** The peer will send nothing more: bytes left over are a last request, or an error reply. */
  finish(): Decoded[] {
    const t = (this.buf + this.utf8.end()).trim();
    this.buf = '';
    return t === '' ? [] : [parseJsonRequest(t, this.limits)];
  }
}

/** Length-prefixed MessagePack frames (after the preface). */
export class BinaryFrameDecoder {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly limits: Limits) {}

  push(chunk: Buffer): Decoded[] {
    this.chunks.push(chunk);
    this.size += chunk.length;
    const out: Decoded[] = [];
    for (;;) {
      if (this.size < 4) break;
      const head = this.peek(4);
      const len = head.readUInt32BE(0);
      if (len > this.limits.maxRequestBytes) {
        this.chunks = []; this.size = 0;
        out.push(tooLarge(this.limits));
        break;
      }
      if (this.size < 4 + len) break;
      const frame = this.take(4 + len).subarray(4);
      out.push(parseMsgpackRequest(frame, this.limits));
    }
    return out;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].length >= n) return this.chunks[0];
    this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0];
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.size = rest.length;
    return out;
  }
}

export function encodeFrame(payload: Uint8Array): Buffer {
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(payload.length, 0);
  return Buffer.concat([head, payload]);
}

function tooLarge(l: Limits): Decoded {
  return { ok: false, code: 'E_TOO_LARGE', message: `request over ${l.maxRequestBytes} bytes` };
}
