// The inspector module: the actor inspector's commands and live stream on /warehouse (staff and admin; retry: admin).
// Generic over every kind: it reads the kernel's journal and replay, and names no other module.
import { map } from 'rxjs';
import { command } from '../../kernel/gateway/commands.ts';
import { once, type Push } from '../../kernel/gateway/pushes.ts';
import { OutboxRepo } from '../../kernel/db/outbox.repo.ts';
import { defineModule, type WarehouseCommandTable } from '../../kernel/module.ts';
import { pushTopics, warehouseCommands } from '../../protocol/index.ts';
import { InspectorService } from './inspector.service.ts';

export { InspectorService } from './inspector.service.ts';

declare module '../../kernel/registry.ts' {
  interface Services {
    readonly inspector: InspectorService;
  }
}

/** The journal event's type, whatever the event (`xstate.init` for a new actor). */
function eventType(event: unknown): string {
  const type = (event as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type : 'unknown';
}

export const inspectorModule = defineModule({
  name: 'inspector',
  create: ({ clock, logger, runtime, actors, db, domainEvents }) => {
    const inspector = new InspectorService({
      runtime,
      actors,
      outbox: new OutboxRepo(db.knex, db.transaction),
      clock,
      logger: logger.child({ part: 'inspector' }),
      nudgeRelay: () => domainEvents.committed(),
    });
    const w = warehouseCommands;
    return {
      services: { inspector },
      commands: {
        warehouse: {
          'inspect:summary': command(w['inspect:summary'], async () => ({ summary: await inspector.summary() })),
          'inspect:actors': command(w['inspect:actors'], (_ctx, p) => inspector.search(p)),
          'inspect:actor': command(w['inspect:actor'], (_ctx, p) => inspector.actor(p.id, p.limit)),
          'inspect:replay': command(w['inspect:replay'], (_ctx, p) => inspector.replayAt(p.id, p.version)),
          'inspect:deliveries': command(w['inspect:deliveries'], (_ctx, p) => inspector.deliveries(p.id, p.limit)),
          'inspect:retry': command(w['inspect:retry'], ({ identity }, p) => inspector.retry(identity, p.seq, p.flow)),
        } satisfies Partial<WarehouseCommandTable>,
      },
      topics: { warehouse: { inspector: { exact: true, view: () => inspector.summary() } } },
      // Every committed change of every kind, through the Socket.IO adapter like any push: every node's inspectors hear it.
      pushes: runtime.changes$.pipe(
        map((change): Push => {
          const payload = { kind: change.kind, id: change.id, version: change.version, state: change.state, event: eventType(change.event), at: change.at };
          return { topics: pushTopics['actor:changed'](payload), event: 'actor:changed', payload: once(() => [payload]) };
        }),
      ),
    };
  },
});
