// The NDJSON decoder after its CPU work (docs/CPU.md: no rescanning of a
// partial line, byte counts and depth scans only when they can matter):
// it must decode exactly as the plain version did, however the bytes are
// chunked. The plain version is kept here as the reference.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { StringDecoder } from 'node:string_decoder';
import { JsonLineDecoder, jsonDepth, DEFAULT_LIMITS, type Decoded, type Limits } from '../../../src/transport/framing.js';

/** The decoder as it was before issue 15: rescans, counts bytes and depth on every line. */
class ReferenceDecoder {
  private buf = '';
  private readonly utf8 = new StringDecoder('utf8');
  constructor(private readonly limits: Limits) {}
  push(chunk: Buffer): Decoded[] {
    this.buf += this.utf8.write(chunk);
    const out: Decoded[] = [];
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).replace(/\r$/, '');
      this.buf = this.buf.slice(nl + 1);
      if (line.trim() === '') continue;
      if (Buffer.byteLength(line) > this.limits.maxRequestBytes) out.push(tooLarge(this.limits));
      else out.push(parse(line, this.limits));
    }
    if (this.buf.length > 0) {
      if (Buffer.byteLength(this.buf) > this.limits.maxRequestBytes) {
        this.buf = '';
        out.push(tooLarge(this.limits));
      } else {
        const t = this.buf.trimEnd();
        if (t.endsWith('}') && t.trimStart().startsWith('{')) {
          const r = parse(t, this.limits);
          if (r.ok) { this.buf = ''; out.push({ ...r, bare: true }); } // marked as a bare object (issue 14's drop-in framing)
        }
      }
    }
    return out;
  }
}
function parse(text: string, limits: Limits): Decoded {
  if (jsonDepth(text, limits.maxDepth) > limits.maxDepth) return { ok: false, code: 'E_TOO_DEEP', message: `nesting deeper than ${limits.maxDepth}` };
  try { return { ok: true, value: JSON.parse(text) }; } catch (e) { return { ok: false, code: 'E_BAD_JSON', message: `not valid JSON: ${(e as Error).message.slice(0, 120)}` }; }
}
function tooLarge(l: Limits): Decoded {
  return { ok: false, code: 'E_TOO_LARGE', message: `request over ${l.maxRequestBytes} bytes` };
}

/** Feeds `bytes` cut at `cuts` to a decoder; every decoded item, in order, with the chunk it came out of. */
function feed(d: { push(b: Buffer): Decoded[] }, bytes: Buffer, cuts: number[]): Array<[number, Decoded]> {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Array<[number, Decoded]> = [];
  let prev = 0, k = 0;
  for (const c of [...at, bytes.length]) {
    if (c < prev) continue;
    for (const x of d.push(bytes.subarray(prev, c))) out.push([k, x]);
    prev = c; k++;
  }
  return out;
}

const LIMITS: Limits = { maxRequestBytes: 200, maxDepth: 4 };

describe('JsonLineDecoder', () => {
  it('decodes lines across chunks, CRLF, blank lines, multi-byte UTF-8 cut mid-character', () => {
    const text = '{"a":"é€😀"}\r\n\n  \n{"b":[1,2]}\n{"c":1}';
    const bytes = Buffer.from(text);
    for (let cut = 0; cut <= bytes.length; cut++) {
      // (`bare` marks an object that arrived without its newline: it depends on the cut; the property test below checks it.)
      const got = feed(new JsonLineDecoder(DEFAULT_LIMITS), bytes, [cut]).map(([, d]) => { const { bare: _b, ...rest } = d as Decoded & { bare?: boolean }; return rest; });
      expect(got, `cut at ${cut}`).toEqual([{ ok: true, value: { a: 'é€😀' } }, { ok: true, value: { b: [1, 2] } }, { ok: true, value: { c: 1 } }]);
    }
  });

  it('refuses a line too deep, too large or not JSON, and keeps a deep text inside strings', () => {
    const d = new JsonLineDecoder(LIMITS);
    const deep = '{"a":{"b":{"c":{"d":{"e":1}}}}}';
    const inStrings = JSON.stringify({ s: '{{{{{{{{[[[[[' });
    const big = JSON.stringify({ s: 'x'.repeat(300) });
    const out = d.push(Buffer.from(`${deep}\n${inStrings}\n${big}\nnope\n`));
    expect(out.map((x) => (x.ok ? 'ok' : x.code))).toEqual(['E_TOO_DEEP', 'ok', 'E_TOO_LARGE', 'E_BAD_JSON']);
    // 67 two-byte characters: 135 bytes, under the limit by bytes though not by the 3-bytes-a-unit bound.
    const twoByte = JSON.stringify({ s: 'é'.repeat(67) });
    expect(d.push(Buffer.from(twoByte + '\n'))).toEqual([{ ok: true, value: { s: 'é'.repeat(67) } }]);
    const over = JSON.stringify({ s: 'é'.repeat(100) });
    expect(d.push(Buffer.from(over + '\n')).map((x) => (x.ok ? 'ok' : x.code))).toEqual(['E_TOO_LARGE']);
  });

  it('decodes exactly as the reference decoder, however the bytes are chunked (property)', () => {
    const piece = fc.oneof(
      fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)),
      fc.constantFrom('{"a":1}', '{"s":"é😀\\n"}', '[[[[[[1]]]]]]', '{"x":"{{{{{{"}', 'not json', '', '  ', '{"a":', '}', '{"big":"' + 'y'.repeat(190) + '"}'),
      fc.string({ maxLength: 20 }),
    );
    const sep = fc.constantFrom('\n', '\r\n', '\n\n', '');
    fc.assert(fc.property(fc.array(fc.tuple(piece, sep), { minLength: 1, maxLength: 12 }), fc.array(fc.nat(4000), { maxLength: 8 }), (parts, cuts) => {
      const bytes = Buffer.from(parts.map(([p, s]) => p + s).join(''));
      const want = feed(new ReferenceDecoder(LIMITS), bytes, cuts);
      const got = feed(new JsonLineDecoder(LIMITS), bytes, cuts);
      expect(got).toEqual(want);
    }), { numRuns: Number(process.env.FUZZ_RUNS ?? 2000) });
  });
});
