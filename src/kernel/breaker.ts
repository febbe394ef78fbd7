// Circuit breakers (opossum) around calls to services outside the process — the SMTP server, the payment
// provider. After repeated failures a breaker opens and refuses calls at once, without trying them, until a trial
// call after `resetTimeoutMs` succeeds. Its state is the `emporium_breaker_state{breaker}` gauge.
import CircuitBreaker from 'opossum';
import { Gauge, type Registry } from 'prom-client';

export type BreakerState = 'closed' | 'halfOpen' | 'open';

/** The gauge's values: 0 closed, 1 half-open (one trial call allowed), 2 open (failing fast). */
const STATE_VALUE: Readonly<Record<BreakerState, number>> = { closed: 0, halfOpen: 1, open: 2 };

export interface BreakerOptions {
  /** A call running longer than this counts as a failure and is answered with `BreakerTimeoutError` (the call itself goes on). `false`: no limit. */
  readonly timeoutMs: number | false;
  /** The breaker opens when more than this share of the calls in the rolling window failed… @default 50 */
  readonly errorThresholdPercentage?: number;
  /** …and at least this many calls were made in it. @default 5 */
  readonly volumeThreshold?: number;
  /** How long it stays open before it lets one trial call through. */
  readonly resetTimeoutMs: number;
  /** The rolling window of the statistics. @default 10_000 */
  readonly rollingWindowMs?: number;
  /** Whether an error says the service is in trouble (counts toward opening); by default every error does. */
  readonly isFailure?: (error: unknown) => boolean;
}

/** Refused without being tried: the breaker is open, or half-open with its one trial call under way. Nothing was sent. */
export class BreakerOpenError extends Error {
  override readonly name = 'BreakerOpenError';
  constructor(readonly breaker: string) {
    super(`${breaker} is unavailable (circuit breaker open)`);
  }
}

/** The call did not finish within the breaker's timeout: it was started and may still succeed. */
export class BreakerTimeoutError extends Error {
  override readonly name = 'BreakerTimeoutError';
  constructor(
    readonly breaker: string,
    readonly timeoutMs: number,
  ) {
    super(`${breaker} did not answer within ${timeoutMs} ms`);
  }
}

export interface Breaker {
  readonly name: string;
  readonly state: BreakerState;
  /**
   * Runs `work` through the breaker. While it is open, rejects at once with `BreakerOpenError` and `work` is
   * not called; past the timeout, rejects with `BreakerTimeoutError` while `work` goes on; otherwise answers as
   * `work` does.
   */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Called on each change of state (a module resumes its queue when the breaker half-opens, say). */
  onChange(listener: (state: BreakerState) => void): void;
  /** Stops its timers; every later call is refused. */
  shutdown(): void;
}

interface BreakerLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

/**
 * A named breaker whose state is published on `metrics` (one `emporium_breaker_state` gauge per registry,
 * labelled by breaker) and whose changes are logged.
 *
 * @example
 * const smtp = createBreaker('smtp', { timeoutMs: 30_000, resetTimeoutMs: 30_000 }, { metrics, logger });
 * await smtp.run(() => transport.send(message));
 */
export function createBreaker(name: string, options: BreakerOptions, deps: { readonly metrics: Registry; readonly logger: BreakerLogger }): Breaker {
  const breaker = new CircuitBreaker((work: () => Promise<unknown>) => work(), {
    name,
    timeout: options.timeoutMs,
    errorThresholdPercentage: options.errorThresholdPercentage ?? 50,
    volumeThreshold: options.volumeThreshold ?? 5,
    resetTimeout: options.resetTimeoutMs,
    rollingCountTimeout: options.rollingWindowMs ?? 10_000,
    // opossum reads a truthy answer as "not a failure".
    errorFilter: (error: unknown) => (options.isFailure ? !options.isFailure(error) : false),
  });
  const gauge = stateGauge(deps.metrics);
  let state: BreakerState = 'closed';
  const listeners: Array<(state: BreakerState) => void> = [];
  const enter = (next: BreakerState) => {
    if (next === state) return;
    state = next;
    gauge.set({ breaker: name }, STATE_VALUE[next]);
    if (next === 'open')
      deps.logger.warn({ breaker: name, retryInMs: options.resetTimeoutMs }, 'circuit breaker opened: calls fail fast until a trial call succeeds');
    else deps.logger.info({ breaker: name, state: next }, next === 'closed' ? 'circuit breaker closed' : 'circuit breaker half-open: one trial call');
    for (const listener of listeners) listener(next);
  };
  gauge.set({ breaker: name }, STATE_VALUE.closed);
  breaker.on('open', () => enter('open'));
  breaker.on('halfOpen', () => enter('halfOpen'));
  breaker.on('close', () => enter('closed'));

  return {
    name,
    get state() {
      return state;
    },
    async run<T>(work: () => Promise<T>): Promise<T> {
      let started = false;
      let finished = false;
      try {
        return (await breaker.fire(async () => {
          started = true;
          try {
            return await work();
          } finally {
            finished = true;
          }
        })) as T;
      } catch (error) {
        if (!started) throw new BreakerOpenError(name);
        if (!finished && typeof options.timeoutMs === 'number') throw new BreakerTimeoutError(name, options.timeoutMs);
        throw error;
      }
    },
    onChange(listener) {
      listeners.push(listener);
    },
    shutdown() {
      listeners.length = 0;
      breaker.shutdown();
    },
  };
}

function stateGauge(metrics: Registry): Gauge<'breaker'> {
  const existing = metrics.getSingleMetric('emporium_breaker_state');
  if (existing) return existing as Gauge<'breaker'>;
  return new Gauge({
    name: 'emporium_breaker_state',
    help: 'Circuit breaker state, by breaker: 0 closed, 1 half-open (one trial call), 2 open (calls fail fast)',
    labelNames: ['breaker'],
    registers: [metrics],
  });
}
