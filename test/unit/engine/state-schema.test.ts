import { describe, it, expect } from 'vitest';
import { StateSchema } from '../../../src/engine/state-schema.js';

describe('StateSchema (default agent schema)', () => {
  const s = new StateSchema();
  const values = new Float64Array(s.fields.length);
  const at = (name: string) => values[s.index(name)];

  it('has 12 features and a timestamp that is not one', () => {
    expect(s.dim).toBe(12);
    expect(s.featureFields.map((f) => f.name)).not.toContain('timestamp');
  });

  it('clamps to the range, fills defaults, and counts what it replaced', () => {
    const before = { ...s.counts };
    const ts = s.parseInto({ health: 3, energy: 'full', target_distance: -5, is_floor_ahead: 1, target_yaw: NaN, selected_slot: 4.6, timestamp: 12.5, extra: 1 }, values);
    expect(ts).toBe(12.5);
    expect(at('health')).toBe(1); // clamped
    expect(at('energy')).toBe(1); // string → default
    expect(at('target_distance')).toBe(0);
    expect(at('is_floor_ahead')).toBe(1); // a number where a boolean belongs → default true
    expect(at('target_yaw')).toBe(0);
    expect(at('selected_slot')).toBe(5);
    expect(at('attack_cooldown')).toBe(1); // missing → default
    expect(s.counts.clamped - before.clamped).toBe(2);
    expect(s.counts.replaced - before.replaced).toBe(3);
  });

  it('scales numbers by the largest magnitude of their range and booleans to 0/1', () => {
    s.parseInto({ health: 0.5, target_distance: 500, target_yaw: -90, is_colliding: true }, values);
    const f = new Float32Array(s.dim);
    s.featuresInto(values, f);
    const idx = (n: string) => s.featureFields.findIndex((x) => x.name === n);
    expect(f[idx('health')]).toBeCloseTo(0.5);
    expect(f[idx('target_distance')]).toBeCloseTo(0.5);
    expect(f[idx('target_yaw')]).toBeCloseTo(-0.5);
    expect(f[idx('is_colliding')]).toBe(1);
  });

  it('returns NaN for a missing or invalid timestamp', () => {
    expect(s.parseInto({}, values)).toBeNaN();
    expect(s.parseInto({ timestamp: 'now' }, values)).toBeNaN();
  });

  it('rejects a bad schema with E_CONFIG', () => {
    for (const bad of [[], [{ name: '1x', type: 'f' }], [{ name: 'a', type: 'q' }], [{ name: 'a', type: 'f', min: 2, max: 1 }],
      [{ name: 'a', type: 'f' }, { name: 'a', type: 'f' }], [{ name: 't', type: 'f', role: 'timestamp' }]]) {
      expect(() => new StateSchema(bad as never), JSON.stringify(bad)).toThrowError(expect.objectContaining({ code: 'E_CONFIG' }));
    }
  });
});
