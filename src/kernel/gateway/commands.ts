// Declarative command tables: each Socket.IO command is a (schema, handler) pair; validation, acks and errors live here once.
import type { z } from 'zod';
import type { ErrorBody } from '../../domain/errors.ts';
import type { AppSocket } from './io-types.ts';
import { binaryBody, binaryPath, toErrorBody, validationBody, type ErrorLogger } from './errors.ts';
import type { CommandLimiter } from './limits.ts';
import { observeCommand } from '../metrics.ts';
import { inSpan, ROOT_CONTEXT, SpanKind, SpanStatusCode, tracingEnabled, type Span } from '../tracing.ts';

export interface Command<Ctx, S extends z.ZodType, R> {
  readonly schema: S;
  readonly handler: (ctx: Ctx, payload: z.output<S>) => Promise<R>;
}

export type CommandTable<Ctx> = Record<string, Command<Ctx, z.ZodType, unknown>>;

/**
 * A namespace's command table as the protocol defines it: exactly the commands
 * of `Schemas`, each validated by its protocol schema and answering
 * `Results[C]`. Build tables with `satisfies ProtocolTable<…>`, so a renamed
 * or missing command, or a handler answering the wrong shape, fails
 * `npm run typecheck` (see tests/types/wire-contract.ts).
 */
export type ProtocolTable<Ctx, Schemas extends Record<string, z.ZodType>, Results extends { [C in keyof Schemas]: unknown }> = {
  readonly [C in keyof Schemas]: Command<Ctx, Schemas[C], Results[C]>;
};

/** Builds one table entry with its payload type inferred from the schema. */
export function command<Ctx, S extends z.ZodType, R>(schema: S, handler: (ctx: Ctx, payload: z.output<S>) => Promise<R>): Command<Ctx, S, R> {
  return { schema, handler };
}

type AckResponse = { ok: true; data: unknown } | { ok: false; error: ErrorBody };

/**
 * The commands being handled, so shutdown can wait for them to finish and answer. Also counts answers that
 * could not be sent because their connection was gone by then.
 */
export class InFlight {
  private readonly running = new Set<Promise<unknown>>();
  private lost = 0;

  async track<T>(work: Promise<T>): Promise<T> {
    this.running.add(work);
    try {
      return await work;
    } finally {
      this.running.delete(work);
    }
  }

  get size(): number {
    return this.running.size;
  }

  /** Answers dropped because the connection had closed before the command finished. */
  get answersLost(): number {
    return this.lost;
  }

  answerLost(): void {
    this.lost++;
  }

  /**
   * Waits for the commands running now to finish — not for any that arrive later, so a stream of new
   * (refused) commands cannot hold it up — for at most `timeoutMs`. Resolves with how many of them are
   * still running then.
   */
  async settle(timeoutMs: number): Promise<number> {
    const now = [...this.running];
    if (now.length === 0) return 0;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled(now), new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, timeoutMs))))]);
    clearTimeout(timer);
    return now.filter((work) => this.running.has(work)).length;
  }
}

export interface BindOptions<Ctx> {
  readonly socket: AppSocket;
  readonly table: CommandTable<Ctx>;
  readonly context: Ctx;
  readonly limiter: CommandLimiter;
  /** Called when the limiter refuses a command, with the limit's name. */
  readonly onRefused?: (limit: string) => void;
  readonly logger: ErrorLogger & {
    warn(object: object, message: string): void;
    debug(object: object, message: string): void;
    /** pino's: whether a line at `level` would be written. */
    isLevelEnabled?(level: string): boolean;
  };
  /** False while the node drains: new commands are refused with a retryable `UNAVAILABLE`. */
  readonly accepting: () => boolean;
  readonly inFlight: InFlight;
}

/**
 * Routes every event of `socket` through the table. Any event name is
 * accepted at the socket level so an unknown one gets a `VALIDATION` ack
 * instead of silence; a missing ack callback gets the answer dropped.
 */
export function bindCommands<Ctx>({ socket, table, context, limiter, onRefused, logger, accepting, inFlight }: BindOptions<Ctx>): void {
  // Answers are logged at debug: skip building the line when the logger would drop it (asked once per socket).
  const debugging = logger.isLevelEnabled?.('debug') ?? true;
  socket.onAny((name: unknown, ...args: unknown[]) => {
    const last = args[args.length - 1];
    const ack = typeof last === 'function' ? (last as (response: AckResponse) => void) : undefined;
    const payload = ack ? args.slice(0, -1) : args;
    void inFlight.track(observed(String(name), payload, ack));
  });

  /** Each command in its own trace (span `command <name>`), counted and timed by name and outcome, logged at debug. */
  function observed(name: string, args: unknown[], ack: ((response: AckResponse) => void) | undefined): Promise<void> {
    // Only the table's names label spans and metrics: any other name a client sends is `unknown`.
    const command = Object.hasOwn(table, name) ? name : 'unknown';
    const started = performance.now();
    const answered = (response: AckResponse, span?: Span) => {
      const outcome = response.ok ? 'ok' : response.error.code;
      const ms = performance.now() - started;
      observeCommand(command, outcome, ms / 1000);
      if (span) {
        span.setAttribute('emporium.outcome', outcome);
        if (outcome === 'INTERNAL') span.setStatus({ code: SpanStatusCode.ERROR, message: 'internal error' });
      }
      if (debugging) logger.debug({ command, outcome, ms: Math.round(ms * 10) / 10 }, 'command answered');
    };
    // With tracing off (the usual case) no span and no attributes are made: this runs for every command.
    if (!tracingEnabled()) return dispatch(name, args, ack, answered);
    const attributes = { 'emporium.command': command, 'emporium.namespace': socket.nsp.name, 'emporium.socket': socket.id };
    return inSpan(`command ${command}`, { kind: SpanKind.SERVER, attributes, parent: ROOT_CONTEXT }, (span) =>
      dispatch(name, args, ack, (response) => answered(response, span)),
    );
  }

  async function dispatch(
    name: string,
    args: unknown[],
    ack: ((response: AckResponse) => void) | undefined,
    answered: (response: AckResponse) => void,
  ): Promise<void> {
    const reply = (response: AckResponse) => {
      answered(response);
      if (!ack) return;
      // Shutdown disconnects a socket only once its commands are answered (or its grace ran out, which it
      // counts); otherwise the client left first. Either way the answer has nowhere to go: count it, never hide it.
      if (!socket.connected) {
        inFlight.answerLost();
        logger.debug({ socket: socket.id, command: name, ok: response.ok }, 'answer not sent: the connection is gone');
        return;
      }
      ack(response);
    };
    const refused = limiter.take();
    if (refused) {
      reply({ ok: false, error: { code: 'RATE_LIMITED', message: refused.message } });
      onRefused?.(refused.limit);
      if (limiter.flooding) {
        logger.warn({ socket: socket.id }, 'disconnecting a flooding client');
        socket.disconnect(true);
      }
      return;
    }
    if (!accepting()) {
      reply({ ok: false, error: { code: 'UNAVAILABLE', message: 'this node is shutting down; reconnect and retry' } });
      return;
    }
    const entry = Object.hasOwn(table, name) ? table[name] : undefined;
    if (!entry) {
      reply({ ok: false, error: { code: 'VALIDATION', message: `unknown command ${JSON.stringify(name.slice(0, 64))}` } });
      return;
    }
    if (args.length > 1) {
      reply({ ok: false, error: { code: 'VALIDATION', message: `${name} takes one payload object` } });
      return;
    }
    // Binary attachments arrive as Buffers: refused in one short sentence, not as a schema failure that lists a Buffer's insides.
    const binary = binaryPath(args[0]);
    if (binary !== undefined) {
      reply({ ok: false, error: binaryBody(binary) });
      return;
    }
    // No payload means an empty one. Socket.IO sends an `undefined` argument as null, so null counts as none too.
    const parsed = entry.schema.safeParse(args[0] ?? {});
    if (!parsed.success) {
      reply({ ok: false, error: validationBody(parsed.error) });
      return;
    }
    try {
      reply({ ok: true, data: await entry.handler(context, parsed.data) });
    } catch (error) {
      reply({ ok: false, error: toErrorBody(error, logger, { command: name, socket: socket.id }) });
    }
  }
}
