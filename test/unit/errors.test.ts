// The error-code registry: every code is documented (docs/PROTOCOL.md §8,
// with the status and HTTP status the server answers) and produced by at
// least one test that asserts it. A code nobody produces is dead or untested.
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ERROR_CODES, errorReply, type ErrorCode } from '../../src/errors.js';

const ROOT = resolve(__dirname, '../..');
const SELF = resolve(__filename);

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? testFiles(p) : /\.(ts|mjs|py)$/.test(f) && p !== SELF ? [p] : [];
  });
}

/**
 * A test file's text without what names a code without producing it:
 * comments (`//`, `/* *\/`, and `#` of the Python tests), the titles of
 * tests (`it(`, `test(`, `describe(` lines), and lines that assert a code is
 * absent (`.not.`, a count that must be 0). Crude (a ` //` inside a string
 * cuts the rest of its line), but it can only remove text, so it never makes
 * a code look produced.
 */
function uncommented(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').split('\n')
    .map((l) => l.replace(/(^|\s)(\/\/|#).*$/, ''))
    .filter((l) => !/\.not\.|\.toBe\(0\)|\.toEqual\(0\)|^\s*(it|test|describe)\b[.\w]*\(/.test(l))
    .join('\n');
}

/** Whether `text` names `code` as a whole word (in a string, a regular expression, a Python literal). */
function names(text: string, code: string): boolean {
  return new RegExp(`\\b${code}\\b(?!_)`).test(text);
}

describe('error codes', () => {
  const codes = Object.keys(ERROR_CODES) as ErrorCode[];
  const docs = readFileSync(join(ROOT, 'docs', 'PROTOCOL.md'), 'utf8');
  const tests = testFiles(join(ROOT, 'test')).map((f) => uncommented(readFileSync(f, 'utf8'))).join('\n');

  it('are many, and each is documented with its status and HTTP status', () => {
    expect(codes.length).toBeGreaterThan(40);
    const missing = codes.filter((c) => !docs.includes(`| \`${c}\` | ${ERROR_CODES[c].status} | ${ERROR_CODES[c].http} |`));
    expect(missing).toEqual([]);
  });

  it('are each produced by at least one test that names it', () => {
    const unproduced = codes.filter((c) => !names(tests, c));
    expect(unproduced).toEqual([]);
  });

  it('the check above counts code, not comments or assertions that a code is absent', () => {
    const produced = (src: string) => names(uncommented(src), 'E_X');
    expect(produced("expect(r.error.code).toBe('E_X');")).toBe(true); // the positive controls
    expect(produced('{ code: "E_X" }')).toBe(true);
    expect(produced('expect(r.stderr).toMatch(/^shadowpath: E_X: /);')).toBe(true);
    expect(produced("expect(r.error.code).toBe('E_X_Y');")).toBe(false);
    expect(produced("// answers 'E_X'\n/* or 'E_X' */\n# 'E_X'")).toBe(false);
    expect(produced("  it('answers E_X', async () => {")).toBe(false);
    expect(produced("expect(tally.get('E_X') ?? 0).toBe(0);")).toBe(false);
    expect(produced("expect(r.error.code).not.toBe('E_X');")).toBe(false);
  });

  it('map statuses to HTTP consistently, and errorReply() takes both from the registry', () => {
    for (const c of codes) {
      const { status, http } = ERROR_CODES[c];
      if (status === 'ERROR') expect([400, 404, 413, 415, 421, 500, 503, 504]).toContain(http);
      else expect([403, 409, 421, 429, 503]).toContain(http);
      expect(errorReply(c, 'm')).toEqual({ status, error: { code: c, message: 'm' } });
    }
  });
});
