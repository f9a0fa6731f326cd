// The state schema: how a cycle's `state` object becomes numbers.
// Each field has a type (f: float, i: integer, b: boolean), an optional range
// it is clamped to, and a default used when it is missing. A value of the
// wrong type, a non-finite number or a string where a number belongs is
// replaced by the default and counted; unknown fields are ignored.
// One field may have role "timestamp": it is read (seconds) for the time checks
// and is not a feature.
import { SidecarError } from '../errors.js';

export type FieldType = 'f' | 'i' | 'b';

export interface FieldSpec {
  name: string;
  type: FieldType;
  min?: number;
  max?: number;
  default?: number | boolean;
  role?: 'timestamp';
}

export interface ParseCounts {
  missing: number;
  replaced: number;
  clamped: number;
}

/** The default agent schema of docs/PROTOCOL.md §3. */
export const DEFAULT_SCHEMA: FieldSpec[] = [
  { name: 'health', type: 'f', min: 0, max: 1, default: 1 },
  { name: 'energy', type: 'f', min: 0, max: 1, default: 1 },
  { name: 'target_distance', type: 'f', min: 0, max: 1000, default: 1000 },
  { name: 'target_yaw', type: 'f', min: -180, max: 180, default: 0 },
  { name: 'target_pitch', type: 'f', min: -180, max: 180, default: 0 },
  { name: 'target_height', type: 'f', min: 0, max: 10, default: 0 },
  { name: 'is_colliding', type: 'b', default: false },
  { name: 'is_on_ground', type: 'b', default: true },
  { name: 'is_floor_ahead', type: 'b', default: true },
  { name: 'fall_distance_ahead', type: 'f', min: 0, max: 10, default: 0 },
  { name: 'attack_cooldown', type: 'f', min: 0, max: 1, default: 1 },
  { name: 'selected_slot', type: 'i', min: 0, max: 8, default: 0 },
  { name: 'timestamp', type: 'f', role: 'timestamp' },
];

export interface ParsedState {
  /** One clamped value per schema field (booleans 0/1), schema order. */
  values: Float64Array;
  /** NaN when absent or invalid. */
  timestamp: number;
}

export class StateSchema {
  readonly fields: readonly FieldSpec[];
  /** Feature fields (all but the timestamp), in order. */
  readonly featureFields: readonly FieldSpec[];
  readonly dim: number;
  private readonly byName = new Map<string, number>();
  private readonly tsIndex: number;
  private readonly defaults: Float64Array;
  private readonly lo: Float64Array;
  private readonly hi: Float64Array;
  private readonly featIdx: Int32Array;
  private readonly featScale: Float64Array;
  readonly counts: ParseCounts = { missing: 0, replaced: 0, clamped: 0 };

  constructor(fields: FieldSpec[] = DEFAULT_SCHEMA) {
    if (!Array.isArray(fields) || fields.length === 0) throw new SidecarError('E_CONFIG', 'schema: a non-empty array of fields is required');
    const n = fields.length;
    this.defaults = new Float64Array(n);
    this.lo = new Float64Array(n).fill(-Infinity);
    this.hi = new Float64Array(n).fill(Infinity);
    let ts = -1;
    fields.forEach((f, i) => {
      const where = `schema field ${i}`;
      if (typeof f?.name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(f.name)) throw new SidecarError('E_CONFIG', `${where}: name must match [A-Za-z_][A-Za-z0-9_]{0,63}`);
      if (['__proto__', 'constructor', 'prototype', 'hasOwnProperty'].includes(f.name)) throw new SidecarError('E_CONFIG', `${where}: "${f.name}" is not allowed as a field name`);
      if (this.byName.has(f.name)) throw new SidecarError('E_CONFIG', `${where}: duplicate field "${f.name}"`);
      if (f.type !== 'f' && f.type !== 'i' && f.type !== 'b') throw new SidecarError('E_CONFIG', `${where}: type must be f, i or b`);
      this.byName.set(f.name, i);
      if (f.role === 'timestamp') {
        if (ts >= 0 || f.type !== 'f') throw new SidecarError('E_CONFIG', `${where}: one float field at most may be the timestamp`);
        ts = i;
      } else if (f.role !== undefined) throw new SidecarError('E_CONFIG', `${where}: unknown role`);
      if (f.type !== 'b') {
        if (f.min !== undefined) this.lo[i] = f.min;
        if (f.max !== undefined) this.hi[i] = f.max;
        if (!(this.lo[i] <= this.hi[i]) || Number.isNaN(this.lo[i])) throw new SidecarError('E_CONFIG', `${where}: min must not exceed max`);
      }
      const d = f.default ?? (f.type === 'b' ? false : f.role === 'timestamp' ? NaN : Math.min(Math.max(0, this.lo[i]), this.hi[i]));
      if (f.type === 'b' ? typeof d !== 'boolean' : typeof d !== 'number') throw new SidecarError('E_CONFIG', `${where}: default of the wrong type`);
      this.defaults[i] = typeof d === 'boolean' ? (d ? 1 : 0) : d;
    });
    this.fields = fields;
    this.tsIndex = ts;
    this.featureFields = fields.filter((_, i) => i !== ts);
    this.dim = this.featureFields.length;
    if (this.dim === 0) throw new SidecarError('E_CONFIG', 'schema: at least one feature field is required');
    this.featIdx = Int32Array.from(fields.map((_, i) => i).filter((i) => i !== ts));
    // A number is scaled by the largest magnitude of its range (so 0 stays 0
    // and signs are kept); an unbounded field is passed through. The kernel's
    // per-feature running scales do the rest, whatever the unit.
    this.featScale = Float64Array.from(this.featIdx, (i) => {
      const m = Math.max(Math.abs(this.lo[i]), Math.abs(this.hi[i]));
      return Number.isFinite(m) && m > 0 ? 1 / m : 1;
    });
    this.compiled = this.compile();
  }

  /**
   * The input layout a model sees, feature by feature in order: the value is
   * clamped to [min, max] (null: unbounded) and multiplied by `scale`;
   * booleans are 0/1, integers rounded. Models travel with it (GET_MODEL,
   * EXPORT_MODEL) so that weights are never read against another layout.
   */
  featureLayout(): Array<{ name: string; type: FieldType; min: number | null; max: number | null; scale: number }> {
    return Array.from(this.featIdx, (i, j) => {
      const f = this.fields[i];
      const bounded = (v: number) => (Number.isFinite(v) ? v : null);
      return { name: f.name, type: f.type, min: f.type === 'b' ? 0 : bounded(this.lo[i]), max: f.type === 'b' ? 1 : bounded(this.hi[i]), scale: this.featScale[j] };
    });
  }

  /** Index of a field in `values`, or -1. */
  index(name: string): number {
    return this.byName.get(name) ?? -1;
  }

  /**
   * Parses a state object into `values` (caller-owned, length = fields).
   * Returns the timestamp (NaN if none).
   */
  parseInto(state: Record<string, unknown>, values: Float64Array): number {
    this.compiled(state, values, this.counts, this.defaults, this.lo, this.hi);
    return this.tsIndex >= 0 ? values[this.tsIndex] : NaN;
  }

  /**
   * The parser, generated once per schema: one straight-line block per field
   * with a literal property name. Field names are checked identifiers, so the
   * generated source is safe; literal names let V8 cache each property's
   * location for states of one shape instead of doing a keyed lookup per
   * field per cycle (the hottest loop of a cycle otherwise).
   */
  private readonly compiled: (state: Record<string, unknown>, values: Float64Array, counts: ParseCounts,
    defaults: Float64Array, lo: Float64Array, hi: Float64Array) => void;

  private compile() {
    const lines: string[] = ['let v;'];
    this.fields.forEach((f, i) => {
      lines.push(`v = state.${f.name};`);
      lines.push(`if (v === undefined) { counts.missing++; values[${i}] = defaults[${i}]; }`);
      if (f.type === 'b') {
        lines.push(`else if (v === true) values[${i}] = 1; else if (v === false) values[${i}] = 0;`);
        lines.push(`else { counts.replaced++; values[${i}] = defaults[${i}]; }`);
      } else {
        lines.push(`else if (typeof v !== 'number' || v - v !== 0) { counts.replaced++; values[${i}] = defaults[${i}]; }`);
        if (f.type === 'i') lines.push('else { v = Math.round(v);');
        else lines.push('else {');
        lines.push(`  if (v < lo[${i}]) { v = lo[${i}]; counts.clamped++; } else if (v > hi[${i}]) { v = hi[${i}]; counts.clamped++; }`);
        lines.push(`  values[${i}] = v; }`);
      }
    });
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    return new Function('state', 'values', 'counts', 'defaults', 'lo', 'hi', lines.join('\n')) as StateSchema['compiled'];
  }

  /** Feature vector (length dim, padding left to the caller) from parsed values. */
  featuresInto(values: Float64Array, out: Float32Array, offset = 0): void {
    const idx = this.featIdx, sc = this.featScale;
    for (let j = 0; j < idx.length; j++) out[offset + j] = values[idx[j]] * sc[j];
  }
}
