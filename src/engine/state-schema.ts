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

/** The default agent schema of PROTOCOL section 3. */
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
  private readonly kind: Uint8Array; // 0 f, 1 i, 2 b
  private readonly featIdx: Int32Array;
  private readonly featScale: Float64Array;
  readonly counts: ParseCounts = { missing: 0, replaced: 0, clamped: 0 };

  constructor(fields: FieldSpec[] = DEFAULT_SCHEMA) {
    if (!Array.isArray(fields) || fields.length === 0) throw new SidecarError('E_CONFIG', 'schema: a non-empty array of fields is required');
    const n = fields.length;
    this.defaults = new Float64Array(n);
    this.lo = new Float64Array(n).fill(-Infinity);
    this.hi = new Float64Array(n).fill(Infinity);
    this.kind = new Uint8Array(n);
    let ts = -1;
    fields.forEach((f, i) => {
      const where = `schema field ${i}`;
      if (typeof f?.name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(f.name)) throw new SidecarError('E_CONFIG', `${where}: name must match [A-Za-z_][A-Za-z0-9_]{0,63}`);
      if (this.byName.has(f.name)) throw new SidecarError('E_CONFIG', `${where}: duplicate field "${f.name}"`);
      if (f.type !== 'f' && f.type !== 'i' && f.type !== 'b') throw new SidecarError('E_CONFIG', `${where}: type must be f, i or b`);
      this.byName.set(f.name, i);
      this.kind[i] = f.type === 'f' ? 0 : f.type === 'i' ? 1 : 2;
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
    const fields = this.fields;
    for (let i = 0; i < fields.length; i++) {
      const raw = state[fields[i].name];
      const k = this.kind[i];
      if (raw === undefined) {
        this.counts.missing++;
        values[i] = this.defaults[i];
        continue;
      }
      if (k === 2) {
        if (typeof raw === 'boolean') values[i] = raw ? 1 : 0;
        else { this.counts.replaced++; values[i] = this.defaults[i]; }
        continue;
      }
      if (typeof raw !== 'number' || !Number.isFinite(raw)) {
        this.counts.replaced++;
        values[i] = this.defaults[i];
        continue;
      }
      let v = k === 1 ? Math.round(raw) : raw;
      if (v < this.lo[i]) { v = this.lo[i]; this.counts.clamped++; }
      else if (v > this.hi[i]) { v = this.hi[i]; this.counts.clamped++; }
      values[i] = v;
    }
    return this.tsIndex >= 0 ? values[this.tsIndex] : NaN;
  }

  /** Feature vector (length dim, padding left to the caller) from parsed values. */
  featuresInto(values: Float64Array, out: Float32Array, offset = 0): void {
    const idx = this.featIdx, sc = this.featScale;
    for (let j = 0; j < idx.length; j++) out[offset + j] = values[idx[j]] * sc[j];
  }
}
