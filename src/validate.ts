// Small validators of configuration values: E_CONFIG naming the option.
import { SidecarError } from './errors.js';

export function finite(v: unknown, name: string, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) throw new SidecarError('E_CONFIG', `${name} must be a number in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
  return v;
}

export function integer(v: unknown, name: string, lo: number, hi: number): number {
  const n = finite(v, name, lo, hi);
  if (!Number.isInteger(n)) throw new SidecarError('E_CONFIG', `${name} must be an integer`);
  return n;
}

/**
 * Refuses an option this layer does not know (a misspelt key would otherwise
 * be ignored without a word): E_CONFIG naming it and, when one is close, the
 * known option it was probably meant to be. `nested` lists the sub-objects
 * whose keys are checked too (the others, such as lists, are free-form).
 */
export function knownKeys(input: unknown, defaults: object, path: string, nested: readonly string[] = []): void {
  if (input === undefined || input === null) return;
  if (typeof input !== 'object' || Array.isArray(input)) throw new SidecarError('E_CONFIG', `${path || 'the configuration'} must be an object, got ${JSON.stringify(input)}`);
  const known = Object.keys(defaults);
  for (const k of Object.keys(input)) {
    const name = path ? `${path}.${k}` : k;
    if (!known.includes(k)) {
      const near = known.find((c) => editDistance(c, k) <= 2);
      throw new SidecarError('E_CONFIG', `unknown option ${name}${near ? ` (did you mean ${path ? `${path}.` : ''}${near}?)` : ''}; known: ${known.join(', ')}`);
    }
    if (nested.includes(k)) knownKeys((input as Record<string, unknown>)[k], (defaults as Record<string, object>)[k], name);
  }
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return d[a.length][b.length];
}
