// The engine's view of the control state: derived from the one control state,
// whole, on every transition. The engine reads nothing else of the control
// plane, and no module writes engine control fields.
import type { ControlState } from '../store/control-state.js';
import type { ControlView } from '../engine/types.js';

export function viewOf(s: ControlState): ControlView {
  return {
    version: s.version,
    lockdown: s.lockdown.active,
    mode: s.failure.mode,
    canaryRatio: s.candidate ? s.canary_ratio : 0,
    canarySalt: s.canary_salt,
    watch: s.watch ? { salt: s.watch.salt, holdbackRatio: s.watch.holdback_ratio, cycles: s.watch.cycles, previous: s.watch.previous?.version ?? null } : null,
  };
}
