// Saga steps sent to actors exactly once in effect: a redelivered step is recognised, a refused one is never swallowed.
import type { LiveActor } from '../actors/runtime.ts';
import type { CommandEvent } from '../actors/kinds.ts';
import type { ActorKinds, AppKind, AppRuntime } from '../registry.ts';

export interface AnomalyLogger {
  error(object: object, message: string): void;
}

/**
 * Saga events an actor refused although it had not taken them already: each
 * is a broken invariant (an order without its cart saying so, a refund that
 * cannot be recorded). Logged as errors, counted for `/metrics`
 * (`emporium_saga_anomalies`), and checked to be zero by the tests.
 */
export class SagaAnomalies {
  private readonly counts = new Map<string, number>();

  constructor(private readonly logger: AnomalyLogger) {}

  record(step: string, details: object): void {
    this.counts.set(step, (this.counts.get(step) ?? 0) + 1);
    this.logger.error({ step, ...details }, 'saga step refused by an actor that had not taken it');
  }

  get total(): number {
    let total = 0;
    for (const count of this.counts.values()) total += count;
    return total;
  }

  /** Count per step, for metrics. */
  byStep(): ReadonlyMap<string, number> {
    return this.counts;
  }
}

export interface SagaStep<K extends AppKind> {
  /** Names the step in logs and metrics, e.g. `checkout.complete`. */
  readonly step: string;
  readonly kind: K;
  readonly id: string;
  readonly event: CommandEvent<ActorKinds[K]>;
  /** The actor has taken this step already (a redelivery, or a duplicate that ran first): nothing to apply. */
  readonly isDone: (actor: LiveActor<ActorKinds[K]>) => boolean;
  /** The actor refused for a reason the saga expects (e.g. the order was cancelled meanwhile): not an anomaly. */
  readonly mayRefuse?: (actor: LiveActor<ActorKinds[K]>) => boolean;
}

/**
 * Applies saga events to actors. Each step states when it is already done, so
 * a redelivery changes nothing; any other refusal is recorded as an anomaly
 * instead of being swallowed.
 *
 * @example
 * await steps.apply({ step: 'shipment.delivered', kind: 'order', id: orderId, event: { type: 'SHIPMENT_DELIVERED' },
 *   isDone: (order) => order.state === 'delivered' });
 */
export class SagaSteps {
  constructor(
    private readonly runtime: AppRuntime,
    readonly anomalies: SagaAnomalies,
  ) {}

  /** The actor after the step (also when it was already done), or undefined when it refused. */
  async apply<K extends AppKind>(step: SagaStep<K>): Promise<LiveActor<ActorKinds[K]> | undefined> {
    const outcome = await this.runtime.attempt(step.kind, step.id, (actor) => (step.isDone(actor) ? null : step.event));
    if (outcome.ok) return outcome.actor;
    // Judged on the stored state (in a cluster, on a fresh read): the refusal is the actor's answer as it is now.
    if (step.mayRefuse?.(outcome.actor)) return undefined;
    this.anomalies.record(step.step, {
      kind: step.kind,
      id: step.id,
      event: (step.event as { type: string }).type,
      state: outcome.actor.state,
      refusal: outcome.refusal.toBody(),
    });
    return undefined;
  }
}
