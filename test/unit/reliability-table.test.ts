// docs/RELIABILITY.md ends with a table: every promise of the README and the
// test that pins it. This keeps the table from rotting: every citation must
// name a test file that exists and, for each `›` segment, a describe/it title
// that file contains.
//
// Citation format, in the table's "test" column (items separated by `;`):
//   `path/to/file.test.ts` › describe title › it title
//   › another title            (same file as the item before)
//   `path/to/file.test.ts` (all)   (the whole file; no title)
// A title may be cut with `…` (what comes before it must be in the file) and
// may end with one parenthetical note, e.g. "(both variants)", which is not
// part of the title. Items that are not test files (`bench/`, `npm run …`)
// are not checked here.
import { describe, it, expect } from 'vitest';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Citation { row: string; file: string; titles: string[] }

/** The citations of the promise table (the last table of the document). */
export function parseCitations(md: string): { rows: number; citations: Citation[] } {
  const at = md.indexOf('## Every promise of the README');
  if (at < 0) throw new Error('no "Every promise of the README" section');
  const lines = md.slice(at).split('\n').filter((l) => l.startsWith('|'));
  const header = lines[0].split('|').map((c) => c.trim());
  const col = header.findIndex((c) => c.startsWith('test'));
  if (col < 0) throw new Error('no "test" column');
  const citations: Citation[] = [];
  let rows = 0;
  for (const line of lines.slice(2)) {
    const cells = line.split(/(?<!\\)\|/).map((c) => c.trim());
    const row = cells[1];
    const cell = cells[col];
    rows++;
    let file: string | null = null;
    for (const raw of cell.split(';').map((s) => s.trim()).filter(Boolean)) {
      const m = /^`([^`]+)`(.*)$/.exec(raw);
      let rest = raw;
      if (m) {
        file = m[1];
        rest = m[2];
      } else if (!raw.startsWith('›')) {
        file = null; // prose ("not pinned by a test …"): nothing to check
        continue;
      }
      if (file === null || !/^(test|clients)\/.*\.(test\.ts|py)$/.test(file)) continue;
      const titles = rest.split('›').slice(1).map((t) => title(t)).filter((t) => t.length > 0);
      citations.push({ row, file, titles });
    }
  }
  return { rows, citations };
}

function title(seg: string): string {
  let t = seg.trim();
  const cut = t.indexOf('…');
  if (cut >= 0) t = t.slice(0, cut);
  else t = t.replace(/\s*\([^()]*\)$/, ''); // one trailing note, e.g. "(both variants)"
  return t.trim();
}

/** The test file's text with string escapes of quotes undone, so titles match as written. */
function source(file: string): string {
  return readFileSync(join(ROOT, file), 'utf8').replace(/\\(['"`])/g, '$1');
}

describe('docs/RELIABILITY.md: the promise table', () => {
  const md = readFileSync(join(ROOT, 'docs/RELIABILITY.md'), 'utf8');
  const { rows, citations } = parseCitations(md);

  it('has rows, and citations of test files with titles', () => {
    expect(rows).toBeGreaterThan(40);
    expect(citations.length).toBeGreaterThan(rows);
    expect(citations.filter((c) => c.titles.length > 0).length).toBeGreaterThan(rows);
  });

  it('cites only test files that exist, and titles those files contain', () => {
    const broken: string[] = [];
    for (const c of citations) {
      if (!existsSync(join(ROOT, c.file))) { broken.push(`${c.row}: no file ${c.file}`); continue; }
      const text = source(c.file);
      for (const t of c.titles) if (!text.includes(t)) broken.push(`${c.row}: ${c.file} has no test titled "${t}"`);
    }
    expect(broken).toEqual([]);
  });

  it('the parser reads the format it documents (and so can find a broken citation)', () => {
    const table = [
      '## Every promise of the README', '', '| promise | test (file › name) | suite |', '|---|---|---|',
      '| a | `test/unit/x.test.ts` › outer › inner… (note); › other (both variants); `test/unit/y.test.ts` (all) | unit |',
      '| b | not pinned by a test (why); `bench/` (figure) | – |',
    ].join('\n');
    expect(parseCitations(table)).toEqual({
      rows: 2,
      citations: [
        { row: 'a', file: 'test/unit/x.test.ts', titles: ['outer', 'inner'] },
        { row: 'a', file: 'test/unit/x.test.ts', titles: ['other'] },
        { row: 'a', file: 'test/unit/y.test.ts', titles: [] },
      ],
    });
  });
});
