// A span per REST request (`GET /api/orders/:id`), continuing the caller's `traceparent` when it sends one, active
// while its handler runs so the service, actor and database spans under it land in its trace.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { contextFromHeaders, SpanKind, SpanStatusCode, startSpan, tracingEnabled, withSpan, type Span } from '../tracing.ts';

/** Scraped every few seconds: tracing them would only bury the requests that matter. */
const UNTRACED = new Set(['/health', '/ready', '/metrics']);

/** Adds the hooks that trace every request of `app` (nothing is done per request while tracing is off). */
export function traceRequests(app: FastifyInstance): void {
  const spans = new WeakMap<FastifyRequest, Span>();
  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url;
    if (!tracingEnabled() || (route !== undefined && UNTRACED.has(route))) return done();
    const parent = contextFromHeaders(request.headers);
    spans.set(
      request,
      startSpan(route ? `${request.method} ${route}` : request.method, {
        kind: SpanKind.SERVER,
        parent,
        attributes: { 'http.request.method': request.method, ...(route ? { 'http.route': route } : {}), 'url.path': request.url.split('?')[0] ?? '' },
      }),
    );
    done();
  });
  // After the body is parsed (its stream events run outside any span): the handler, and all it starts, runs in the span.
  app.addHook('preHandler', (request, _reply, done) => {
    const span = spans.get(request);
    if (!span) return done();
    withSpan(span, done);
  });
  const end = (request: FastifyRequest, status: number | undefined) => {
    const span = spans.get(request);
    if (!span) return;
    spans.delete(request);
    if (status === undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: 'request aborted' });
    else {
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  };
  app.addHook('onResponse', (request, reply, done) => {
    end(request, reply.statusCode);
    done();
  });
  app.addHook('onRequestAbort', (request, done) => {
    end(request, undefined);
    done();
  });
}
