// OpenTelemetry tracing: spans through @opentelemetry/api everywhere (its no-op tracer unless an SDK is started), an
// SDK started only when an OTLP endpoint is configured (or a test injects an exporter), W3C trace context carried
// through the outbox, and the trace id in log lines.
import {
  context,
  INVALID_SPAN_CONTEXT,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Link,
  type Span,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-node';

export { ROOT_CONTEXT, SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';

/** The tracer of every span the application makes: a no-op one until an SDK is registered (taken anew each time). */
let tracer = trace.getTracer('emporium');

export interface TracingOptions {
  /** OTLP over HTTP base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`); traces go to `<endpoint>/v1/traces`. */
  readonly endpoint?: string | undefined;
  /** Exporter to use instead of OTLP, each span exported as it ends (tests: an `InMemorySpanExporter`). */
  readonly exporter?: SpanExporter | undefined;
  /** `service.name` of every span. @default 'emporium' */
  readonly serviceName?: string | undefined;
  /** `service.instance.id`: this node's name. */
  readonly nodeId?: string | undefined;
}

/** A started SDK: `shutdown` exports what is buffered and unregisters it. */
export interface Tracing {
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

let registered: { provider: NodeTracerProvider; users: number } | undefined;

/** The span handed to work while tracing is off: records nothing, like the API's no-op tracer's spans. */
const NO_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * Starts the tracing SDK when `endpoint` or `exporter` is given (undefined otherwise: spans stay no-ops and cost
 * next to nothing). It is process-wide (OpenTelemetry's globals): a second app in the same process shares the
 * first one's SDK, which is shut down when the last of them stops.
 *
 * @example
 * const tracing = startTracing({ endpoint: 'http://localhost:4318', nodeId: 'node-1' });
 * // … on stop:
 * await tracing?.shutdown();
 */
export function startTracing(options: TracingOptions): Tracing | undefined {
  if (!options.endpoint && !options.exporter) return undefined;
  if (!registered) {
    const processor = options.exporter
      ? new SimpleSpanProcessor(options.exporter)
      : new BatchSpanProcessor(new OTLPTraceExporter({ url: `${options.endpoint!.replace(/\/+$/, '')}/v1/traces` }));
    const provider = new NodeTracerProvider({
      resource: resourceFromAttributes({
        'service.name': options.serviceName ?? 'emporium',
        ...(options.nodeId ? { 'service.instance.id': options.nodeId } : {}),
      }),
      spanProcessors: [processor],
    });
    // The AsyncLocalStorage context manager and the W3C trace-context propagator (for an incoming `traceparent`).
    provider.register();
    registered = { provider, users: 0 };
    tracer = trace.getTracer('emporium');
  }
  const mine = registered;
  mine.users++;
  let stopped = false;
  return {
    forceFlush: () => mine.provider.forceFlush(),
    async shutdown() {
      if (stopped) return;
      stopped = true;
      if (--mine.users > 0) {
        await mine.provider.forceFlush();
        return;
      }
      if (registered === mine) registered = undefined;
      await mine.provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
      // The old tracer would hand spans to the provider just shut down: the no-op one until the next start.
      tracer = trace.getTracer('emporium');
    },
  };
}

/** Whether an SDK is running in this process (spans are recorded and exported). */
export function tracingEnabled(): boolean {
  return registered !== undefined;
}

/** Marks `span` failed with `error` (its code when it is an `AppError`). */
export function recordFailure(span: Span, error: unknown): void {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') span.setAttribute('emporium.error.code', code);
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/**
 * Runs `work` in a new span `name`, active for everything `work` starts (a child of the active span, or of
 * `options.parent`), ended when `work` settles; a rejection marks it failed and is passed on.
 */
export function inSpan<T>(
  name: string,
  options: { readonly kind?: SpanKind; readonly attributes?: Attributes; readonly parent?: Context; readonly links?: Link[] },
  work: (span: Span) => Promise<T>,
): Promise<T> {
  // Tracing off: no span, no context switch (this runs several times per command).
  if (!registered) return work(NO_SPAN);
  const parent = options.parent ?? context.active();
  const span = tracer.startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes, links: options.links }, parent);
  return context.with(trace.setSpan(parent, span), async () => {
    try {
      return await work(span);
    } catch (error) {
      recordFailure(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Starts a span without making it active (the caller ends it); a child of `parent` (the active context by default). */
export function startSpan(name: string, options: { readonly kind?: SpanKind; readonly attributes?: Attributes; readonly parent?: Context } = {}): Span {
  if (!registered) return NO_SPAN;
  return tracer.startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes }, options.parent ?? context.active());
}

/** The active context, to hand work started later (a batched commit) to the span that asked for it. */
export function activeContext(): Context {
  return context.active();
}

/** Runs `work` with `span` active (a child of `parent`, the active context by default). */
export function withSpan<T>(span: Span, work: () => T, parent: Context = context.active()): T {
  return context.with(trace.setSpan(parent, span), work);
}

/**
 * The W3C `traceparent` of the active span (`00-<trace id>-<span id>-<flags>`), to store with work that goes on
 * elsewhere (an outbox row); null outside any span (always, with tracing off).
 */
export function currentTraceparent(): string | null {
  if (!registered) return null;
  const spanContext = trace.getActiveSpan()?.spanContext();
  if (!spanContext || !isSpanContextValid(spanContext)) return null;
  const { traceId, spanId, traceFlags } = spanContext;
  return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * A context whose parent is the remote span of a stored `traceparent` (a fresh root context when there is none or
 * it is malformed): the delivery of an outbox row continues the trace that wrote it, on whatever node.
 */
export function contextFromTraceparent(traceparent: string | null | undefined): Context {
  const match = traceparent ? TRACEPARENT.exec(traceparent) : null;
  if (!match || /^0+$/.test(match[1]!) || /^0+$/.test(match[2]!)) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: match[1]!,
    spanId: match[2]!,
    traceFlags: Number.parseInt(match[3]!, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  });
}

/** The context an incoming request's `traceparent` header continues (the active one when it has none). */
export function contextFromHeaders(headers: Record<string, string | string[] | undefined>): Context {
  return propagation.extract(context.active(), headers);
}

/**
 * pino `mixin`: the active span's `trace_id` and `span_id` on every log line written inside a span, so a log line
 * leads to its trace and back. Nothing outside a span (always, with tracing off). A new object each time: pino
 * merges the line's own fields into it.
 *
 * @example
 * const logger = pino({ mixin: traceLogFields });
 */
export function traceLogFields(): Record<string, string> {
  if (!registered) return {};
  const spanContext = trace.getActiveSpan()?.spanContext();
  if (!spanContext || !isSpanContextValid(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}

/** Renames the active span (when `name` is given) and adds `attributes` to it; nothing outside a recording span. */
export function annotateActiveSpan(attributes: Attributes, name?: string): void {
  if (!registered) return;
  const span = trace.getActiveSpan();
  if (!span?.isRecording()) return;
  if (name) span.updateName(name);
  span.setAttributes(attributes);
}
