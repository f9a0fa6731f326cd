import { SidecarError } from '../errors.js';

/**
 * Parses `--name value` and `--flag` options against a spec; unknown options
 * are an error. A `strings` option may be repeated and collects its values.
 */
export function parseArgs(argv: string[], spec: Record<string, 'string' | 'number' | 'boolean' | 'strings'>): Record<string, string | number | boolean | string[]> {
  const out: Record<string, string | number | boolean | string[]> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new SidecarError('E_CONFIG', `unexpected argument "${a}"`);
    const name = a.slice(2);
    const kind = spec[name];
    if (!kind) throw new SidecarError('E_CONFIG', `unknown option --${name}`);
    if (kind === 'boolean') { out[name] = true; continue; }
    const v = argv[++i];
    if (v === undefined) throw new SidecarError('E_CONFIG', `--${name} needs a value`);
    if (kind === 'number') {
      const n = Number(v);
      if (!Number.isFinite(n)) throw new SidecarError('E_CONFIG', `--${name} must be a number, got "${v}"`);
      out[name] = n;
    } else if (kind === 'strings') out[name] = [...((out[name] as string[] | undefined) ?? []), v];
    else out[name] = v;
  }
  return out;
}
