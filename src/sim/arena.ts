// The arena: a deterministic world of many agents, each living through short,
// dangerous encounters, for the load generator, the demo and the learning
// experiments. Its states follow the default agent schema and its results the
// PROTOCOL result shape.
//
// Encounters (drawn per episode from the seed):
// - a strong enemy (target_height > 5) close by: it hits hard every tick
//   unless the agent evades; fighting or approaching it is deadly;
// - a weak enemy (target_height < 3): approach and attack it when the attack
//   is ready; it hits lightly when close;
// - a ledge: the floor ahead is missing, with a drop; stepping or jumping into
//   it hurts or kills (the default safety rules forbid both);
// and, in any encounter, a crowd: while the agent is colliding, MOVE pushes
// into others, which is a safety violation (no default rule forbids it).
// The rules policy approaches anything within 60 m and does not evade a
// strong enemy at full health, nor stop pushing in a crowd: it dies often and
// violates. A learned policy can do better from the same features.
import { mix32, unit } from '../kernel/reference.js';

export interface ArenaState {
  health: number; energy: number; target_distance: number; target_yaw: number; target_pitch: number; target_height: number;
  is_colliding: boolean; is_on_ground: boolean; is_floor_ahead: boolean; fall_distance_ahead: number; attack_cooldown: number;
  selected_slot: number; timestamp: number;
}

export interface ArenaResult {
  status: 'SUCCESS' | 'FAILURE';
  failure_reason: string;
  safety_flags: { is_blocked: boolean; on_cooldown: boolean; violation: boolean };
  outcomes: { damage_dealt: number; damage_received: number; is_alive: boolean; action_wasted: boolean };
}

type Kind = 'strong' | 'weak' | 'ledge';

interface Agent {
  id: string;
  kind: Kind;
  health: number;
  energy: number;
  dist: number;
  yaw: number;
  enemyHealth: number;
  cooldown: number;
  colliding: boolean;
  crowd: boolean;
  fall: number;
  ticks: number;
  episode: number;
}

export interface ArenaOptions {
  seed: number;
  agents: number;
  /** Share of episodes with a strong enemy. */
  strongShare?: number;
  /** Share of episodes with a crowd (collisions). */
  crowdShare?: number;
  /** Agent ids are prefix + index (default "arena-<seed>-"): two arenas on one sidecar do not share streams. */
  idPrefix?: string;
  /** Timestamp (s) of the first state; later states advance 0.05 s a step. Default: now, so a later run never goes back in time. */
  startTime?: number;
  /**
   * Timestamps from this process's monotonic wall clock instead of the
   * simulated 0.05 s a step. The simulated clock runs ahead of real time as
   * fast as the arena steps (2,000 steps/s: 100 s per second), so a later run
   * that reuses an agent id would start behind the id's last timestamp: a
   * TIME_INTEGRITY_VIOLATION at the server. The wall clock never runs ahead,
   * so no later run goes back for any id (unless the system clock is set
   * back). The load generator and the demo use it; experiments keep the
   * deterministic simulated clock.
   */
  wallClock?: boolean;
}

export interface ArenaTotals {
  steps: number;
  deaths: number;
  violations: number;
  episodes: number;
}

const MAX_TICKS = 6;

export class Arena {
  readonly agents: Agent[];
  readonly totals: ArenaTotals = { steps: 0, deaths: 0, violations: 0, episodes: 0 };
  private draws = 0;
  private clock: number;

  constructor(private readonly o: ArenaOptions) {
    this.clock = o.startTime ?? Date.now() / 1000;
    this.agents = Array.from({ length: o.agents }, (_, i) => this.spawn(`${o.idPrefix ?? `arena-${o.seed}-`}${i}`, 0));
  }

  private rand(): number {
    return unit(mix32(this.o.seed >>> 0, this.draws++, 29));
  }

  private spawn(id: string, episode: number): Agent {
    const r = this.rand();
    const strong = this.o.strongShare ?? 0.7;
    const kind: Kind = r < strong ? 'strong' : r < strong + 0.15 ? 'ledge' : 'weak';
    this.totals.episodes++;
    return {
      id, kind, episode, ticks: 0, health: 0.5 + 0.5 * this.rand(), energy: 0.5 + 0.5 * this.rand(),
      dist: kind === 'strong' ? 4 + 4 * this.rand() : kind === 'weak' ? 3 + 10 * this.rand() : 5 + 20 * this.rand(),
      yaw: this.rand() * 120 - 60, enemyHealth: 1, cooldown: this.rand() < 0.5 ? 0 : 0.5,
      crowd: this.rand() < (this.o.crowdShare ?? 0.2), colliding: false, fall: kind === 'ledge' ? 1 + 8 * this.rand() : 0,
    };
  }

  /** The state an agent sends this tick (default schema). */
  state(a: Agent): ArenaState {
    a.colliding = a.crowd && this.rand() < 0.5;
    const ledge = a.kind === 'ledge' && a.dist < 6;
    return {
      health: round(a.health), energy: round(a.energy), target_distance: round(a.dist), target_yaw: round(a.yaw), target_pitch: 0,
      target_height: a.kind === 'strong' ? 6 + 3 * (a.episode % 2) : a.kind === 'weak' ? 1.5 : 0,
      is_colliding: a.colliding, is_on_ground: true, is_floor_ahead: !ledge, fall_distance_ahead: ledge ? round(a.fall) : 0,
      attack_cooldown: round(a.cooldown), selected_slot: a.episode % 9,
      timestamp: this.o.wallClock ? (performance.timeOrigin + performance.now()) / 1000 : this.clock,
    };
  }

  /** Applies an intent; returns the result and whether the episode ended (the agent respawns). */
  step(a: Agent, intent: string): { result: ArenaResult; ended: boolean } {
    this.totals.steps++;
    this.clock += 0.05;
    let dealt = 0, received = 0, wasted = false, violation = false, blocked = false;
    const ledge = a.kind === 'ledge' && a.dist < 6;
    switch (intent) {
      case 'MOVE':
        if (a.colliding) { violation = true; blocked = true; break; }
        if (ledge) { received += a.fall > 3 ? 1 : 0.3 * a.fall; break; }
        a.dist = Math.max(0.5, a.dist - 2.5);
        break;
      case 'JUMP':
        if (ledge) { received += a.fall > 3 ? 1 : 0.2 * a.fall; break; }
        a.dist = Math.max(0.5, a.dist - 1.5);
        a.energy -= 0.05;
        break;
      case 'EVADE':
        a.dist += 3;
        a.energy -= 0.03;
        break;
      case 'PRIMARY_ATTACK':
        if (a.cooldown > 0 || a.dist > 3 || a.kind === 'ledge') { wasted = true; break; }
        dealt = a.kind === 'strong' ? 0.15 : 0.5;
        a.enemyHealth -= dealt;
        a.cooldown = 1;
        break;
      default: // HOLD, STOP, RELEASE: stand still
        a.energy = Math.min(1, a.energy + 0.02);
    }
    // The enemy acts: a strong one hits hard unless evaded (and still gets a
    // blow in on an agent that evades too late, from close by), then closes in.
    if (a.kind === 'strong' && a.dist < 6) received += intent === 'EVADE' ? (a.dist < 4.5 ? 0.25 : 0.03) : 0.45;
    if (a.kind === 'strong') a.dist = Math.max(0.5, a.dist - 1.5);
    if (a.kind === 'weak' && a.dist < 3 && a.enemyHealth > 0) received += intent === 'EVADE' ? 0.01 : 0.08;
    a.cooldown = Math.max(0, round(a.cooldown - 0.34));
    a.health = Math.max(0, a.health - received);
    a.ticks++;
    const alive = a.health > 0;
    if (!alive) this.totals.deaths++;
    if (violation) this.totals.violations++;
    const won = a.enemyHealth <= 0 || (a.kind === 'strong' && a.dist > 10) || (a.kind === 'ledge' && a.dist > 30);
    const ended = !alive || won || a.ticks >= MAX_TICKS;
    const result: ArenaResult = {
      status: wasted || blocked ? 'FAILURE' : 'SUCCESS', failure_reason: blocked ? 'BLOCKED' : wasted ? 'NOT_READY' : 'NONE',
      safety_flags: { is_blocked: blocked, on_cooldown: a.cooldown > 0, violation },
      outcomes: { damage_dealt: round(dealt), damage_received: round(received), is_alive: alive, action_wasted: wasted },
    };
    if (ended) Object.assign(a, this.spawn(a.id, a.episode + 1));
    return { result, ended };
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
