// The configuration refuses what it does not know or cannot use, naming the
// option (E_CONFIG), at every level: the file, each layer, their sub-objects.
import { describe, it, expect } from 'vitest';
import { sidecarConfig, engineConfig, controlConfig, failureConfig } from '../../src/config.js';
import { SidecarError } from '../../src/errors.js';

function refused(f: () => unknown): string {
  try { f(); } catch (e) {
    expect(e).toBeInstanceOf(SidecarError);
    expect((e as SidecarError).code).toBe('E_CONFIG');
    return (e as Error).message;
  }
  throw new Error('accepted');
}

describe('configuration', () => {
  it('max_cycles_per_s: a number ≥ 0 (0: no limit), default 200000', () => {
    expect(sidecarConfig({}).maxCyclesPerS).toBe(200_000);
    expect(sidecarConfig({ max_cycles_per_s: 0 }).maxCyclesPerS).toBe(0);
    expect(sidecarConfig({ max_cycles_per_s: 500 }).maxCyclesPerS).toBe(500);
    expect(refused(() => sidecarConfig({ max_cycles_per_s: 'fast' as unknown as number }))).toMatch(/max_cycles_per_s/);
    expect(refused(() => sidecarConfig({ max_cycles_per_s: -5 }))).toMatch(/max_cycles_per_s/);
  });

  it('an unknown section or option is refused, with the near known one', () => {
    expect(refused(() => sidecarConfig({ engin: {} } as never))).toMatch(/unknown option engin \(did you mean engine\?\)/);
    expect(refused(() => engineConfig({ pool_thredas: 1 } as never))).toMatch(/unknown option engine\.pool_thredas \(did you mean engine\.pool_threads\?\)/);
    expect(refused(() => engineConfig({ learning: { learning_rate: 0.1 } } as never))).toMatch(/unknown option engine\.learning\.learning_rate/);
    expect(refused(() => controlConfig({ gate: { margin_survivl: 0.1 } } as never))).toMatch(/control\.gate\.margin_survivl \(did you mean control\.gate\.margin_survival\?\)/);
    expect(refused(() => controlConfig({ watch: { cycle: 10 } } as never))).toMatch(/control\.watch\.cycle \(did you mean control\.watch\.cycles\?\)/);
    expect(refused(() => failureConfig({ alerts: { p99_budget: 1 } } as never))).toMatch(/failures\.alerts\.p99_budget/);
    expect(refused(() => engineConfig({ reward: { deth: -1 } } as never))).toMatch(/engine\.reward\.deth \(did you mean engine\.reward\.death\?\)/);
    expect(refused(() => engineConfig('fast' as never))).toMatch(/engine must be an object/);
  });

  it('known options at every level are accepted', () => {
    expect(sidecarConfig({ engine: {}, control: {}, failures: {}, max_cycles_per_s: 10 }).maxCyclesPerS).toBe(10);
    expect(engineConfig({ pool_threads: 1, learning: { lr: 0.1 }, exploration: { epsilon: 0 }, reward: { death: -3 } }).learning.lr).toBe(0.1);
    expect(controlConfig({ gate: { alpha: 0.01 }, watch: { cycles: 10 } }).gate.alpha).toBe(0.01);
    expect(failureConfig({ alerts: { canary_z: 3 } }).alerts.canary_z).toBe(3);
    expect(failureConfig({ alerts: { canary_rule: 'window' } }).alerts.canary_rule).toBe('window');
    expect(failureConfig({}).alerts.canary_rule).toBe('sequence');
  });

  it('the canary abort\'s rule is one of the two', () => {
    expect(refused(() => failureConfig({ alerts: { canary_rule: 'z' } } as never))).toMatch(/failures\.alerts\.canary_rule must be "sequence" or "window" \(got "z"\)/);
  });
});
