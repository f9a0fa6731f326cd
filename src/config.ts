// The whole configuration: each layer owns its options, defaults and
// validation (src/engine/config.ts, src/control/config.ts); this file only
// composes them. Every option a user can set has a default; docs/CONFIG.md
// lists them.
import type { EngineConfigInput } from './engine/config.js';
import type { ControlConfigInput, FailureConfigInput } from './control/config.js';
import { finite, knownKeys } from './validate.js';

export { engineConfig, DEFAULT_ENGINE_CONFIG, type EngineConfig, type EngineConfigInput } from './engine/config.js';
export { controlConfig, failureConfig, DEFAULT_CONTROL_CONFIG, DEFAULT_FAILURE_CONFIG, type ControlConfig, type FailureConfig, type ControlConfigInput, type FailureConfigInput } from './control/config.js';

/** The whole configuration file: `{engine: {...}, control: {...}, failures: {...}, max_cycles_per_s}`. */
export interface SidecarConfigInput {
  engine?: EngineConfigInput;
  control?: ControlConfigInput;
  failures?: FailureConfigInput;
  /** Cycles per second over which cycles are shed with E_FLOOD (default 200,000). */
  max_cycles_per_s?: number;
}

export const DEFAULT_MAX_CYCLES_PER_S = 200_000;

/**
 * Checks the file's own level (the layers check theirs when they build their
 * configs): only known sections, and `max_cycles_per_s` a number ≥ 0 (0: no limit).
 * Returns the flood limit.
 */
export function sidecarConfig(input: SidecarConfigInput = {}): { maxCyclesPerS: number } {
  knownKeys(input, { engine: {}, control: {}, failures: {}, max_cycles_per_s: 0 }, '');
  const m = input.max_cycles_per_s ?? DEFAULT_MAX_CYCLES_PER_S;
  return { maxCyclesPerS: finite(m, 'max_cycles_per_s', 0, 1e9) }; // 0: no limit
}
