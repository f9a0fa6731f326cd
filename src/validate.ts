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
