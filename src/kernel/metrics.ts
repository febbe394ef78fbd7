// Process-wide counters the gateway updates wherever it is (commands, limits hit), registered on each app's /metrics
// registry by `registerGatewayMetrics`. One app per process in production; apps sharing a process (tests) share them.
import { Counter, Histogram, type Registry } from 'prom-client';

/** Commands handled, by name (`unknown` for a name no table has) and outcome (`ok` or the error code answered). */
const commands = new Counter({
  name: 'emporium_commands_total',
  help: 'Socket.IO commands answered, by command and outcome (ok, or the error code answered)',
  labelNames: ['command', 'outcome'],
  registers: [],
});

const commandSeconds = new Histogram({
  name: 'emporium_command_duration_seconds',
  help: 'Time from receiving a Socket.IO command to answering it, by command',
  labelNames: ['command'],
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [],
});

const limitsHit = new Counter({
  name: 'emporium_limits_hit_total',
  help: 'Requests refused or connections closed by a limit (command rate, connections, login attempts, …), by limit',
  labelNames: ['limit'],
  registers: [],
});

/** Adds the gateway's process-wide metrics to an app's registry (once per registry). */
export function registerGatewayMetrics(registry: Registry): void {
  for (const metric of [commands, commandSeconds, limitsHit] as Array<Parameters<Registry['registerMetric']>[0]>) {
    if (!registry.getSingleMetric((metric as unknown as { name: string }).name)) registry.registerMetric(metric);
  }
}

/** One command answered: `outcome` is `ok` or the error code; `seconds` from its arrival to its answer. */
export function observeCommand(command: string, outcome: string, seconds: number): void {
  commands.inc({ command, outcome });
  commandSeconds.observe({ command }, seconds);
}

/**
 * A limit refused something: `emporium_limits_hit_total{limit}` goes up by one. Call it from wherever a limit is
 * enforced, with a short fixed name (`commands_per_second`, `connections_per_ip`, `login_attempts`, …), never
 * with anything a client chose.
 *
 * @example
 * if (!limiter.take()) countLimitHit('commands_per_second');
 */
export function countLimitHit(limit: string): void {
  limitsHit.inc({ limit });
}
