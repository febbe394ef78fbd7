// The effect runner: finds actors left in an effect's state past its stall timeout and resumes them, one by one.
import { AppError } from '../../domain/errors.ts';
import type { ActorRepo } from '../db/actor.repo.ts';
import type { AppRuntime, Services } from '../registry.ts';
import type { ActorKindDefinition, EffectDefinition } from './kinds.ts';
import type { LiveActor } from './runtime.ts';

export type EffectOutcome = 'finished' | 'refused' | 'failed';

export interface EffectRunnerOptions {
  readonly runtime: AppRuntime;
  readonly actors: ActorRepo;
  readonly kinds: Readonly<Record<string, ActorKindDefinition>>;
  readonly services: Services;
  readonly clock: () => number;
  readonly logger: { warn(object: object, message: string): void };
  /** Actors resumed per effect and sweep; the rest wait for the next sweep. @default 50 */
  readonly batch?: number;
  readonly onResumed?: (effect: string, outcome: EffectOutcome) => void;
}

type AnyEffect = EffectDefinition<never>;

/**
 * Every effect the kinds declare, resumed by one sweep duty. Each actor is
 * resumed on its own: one that fails (its provider down) is logged and retried
 * next time, and never holds up the others.
 */
export class EffectRunner {
  private readonly effects: ReadonlyArray<{ readonly kind: string; readonly effect: AnyEffect }>;

  constructor(private readonly o: EffectRunnerOptions) {
    this.effects = Object.entries(o.kinds).flatMap(([kind, definition]) =>
      (definition.effects ?? []).map((effect) => ({ kind, effect: effect as unknown as AnyEffect })),
    );
    const names = new Set<string>();
    for (const { effect } of this.effects) {
      if (names.has(effect.name)) throw new Error(`two effects are named ${effect.name}`);
      names.add(effect.name);
    }
  }

  /** The declared effects, for docs and the inspector. */
  get declared(): ReadonlyArray<{ readonly kind: string; readonly effect: Omit<AnyEffect, 'resume'> }> {
    return this.effects;
  }

  /** One pass: resumes the actors stalled in each effect's state. Resolves with how many were resumed. */
  async resumeStalled(): Promise<number> {
    let resumed = 0;
    for (const { kind, effect } of this.effects) {
      const stale = await this.o.actors.listStale(kind, effect.state, this.o.clock() - effect.stallMs, this.o.batch ?? 50);
      for (const row of stale) {
        const outcome = await this.resume(kind, effect, row.id);
        if (outcome) {
          this.o.onResumed?.(effect.name, outcome);
          if (outcome !== 'failed') resumed++;
        }
      }
    }
    return resumed;
  }

  private async resume(kind: string, effect: AnyEffect, id: string): Promise<EffectOutcome | undefined> {
    try {
      // The listing may be behind: resume only an actor that is still in the state now.
      const actor = await this.o.runtime.get(kind as never, id);
      if (actor?.state !== effect.state) return undefined;
      await effect.resume(actor as LiveActor as never, this.o.services);
      return 'finished';
    } catch (error) {
      // UNAVAILABLE is an outage (a payment provider behind an open breaker), not a refusal: retried like any failure.
      if (error instanceof AppError && error.code !== 'UNAVAILABLE') return 'refused';
      this.o.logger.warn({ err: error, effect: effect.name, kind, id }, 'could not resume a stalled effect; will retry');
      return 'failed';
    }
  }
}
