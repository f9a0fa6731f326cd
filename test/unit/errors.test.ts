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

describe('error codes', () => {
  const codes = Object.keys(ERROR_CODES) as ErrorCode[];
  const docs = readFileSync(join(ROOT, 'docs', 'PROTOCOL.md'), 'utf8');
  const tests = testFiles(join(ROOT, 'test')).map((f) => readFileSync(f, 'utf8')).join('\n');

  it('are many, and each is documented with its status and HTTP status', () => {
    expect(codes.length).toBeGreaterThan(40);
    const missing = codes.filter((c) => !docs.includes(`| \`${c}\` | ${ERROR_CODES[c].status} | ${ERROR_CODES[c].http} |`));
    expect(missing).toEqual([]);
  });

  it('are each produced by at least one test that names it', () => {
    const unproduced = codes.filter((c) => !new RegExp(`['"\`]${c}['"\`]|${c}\\b(?!_)`).test(tests));
    expect(unproduced).toEqual([]);
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
