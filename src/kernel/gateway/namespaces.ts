// A namespace's command table, gathered from the modules' parts, plus the gateway's own topic commands.
import { storeCommands, warehouseCommands } from '../../protocol/index.ts';
import type { ModulePart, Namespace, NamespaceTables, SocketContext } from '../module.ts';
import { command, type CommandTable } from './commands.ts';
import { subscribeTopic, topicResolver, unsubscribeTopic, type TopicDefinition } from './topics.ts';

const schemas = { store: storeCommands, warehouse: warehouseCommands } as const;

/**
 * Merges the modules' commands and topics of `namespace` into one table, with `subscribe` and `unsubscribe`
 * over the topics. Throws when two modules serve the same command or topic: one of them would be silently lost.
 */
export function namespaceTable<N extends Namespace>(
  namespace: N,
  parts: ReadonlyArray<{ readonly module: string; readonly part: ModulePart }>,
): CommandTable<SocketContext> {
  const table: Record<string, unknown> = {};
  const owners = new Map<string, string>();
  const topics: Record<string, TopicDefinition> = {};
  for (const { module, part } of parts) {
    for (const [name, entry] of Object.entries(part.commands?.[namespace] ?? {})) {
      const owner = owners.get(name);
      if (owner) throw new Error(`/${namespace} command ${name} is served by both ${owner} and ${module}`);
      owners.set(name, module);
      table[name] = entry;
    }
    for (const [name, definition] of Object.entries<TopicDefinition>(part.topics?.[namespace] ?? {})) {
      if (Object.hasOwn(topics, name)) throw new Error(`/${namespace} topic ${name} is served by two modules (the second is ${module})`);
      topics[name] = definition;
    }
  }
  const resolve = topicResolver(topics);
  const gateway = {
    subscribe: command(schemas[namespace].subscribe, ({ identity, socket }: SocketContext, p) =>
      subscribeTopic(socket, p.topic, () => resolve(identity, p.topic)),
    ),
    unsubscribe: command(schemas[namespace].unsubscribe, ({ socket }: SocketContext, p) => unsubscribeTopic(socket, p.topic)),
  } satisfies Pick<NamespaceTables[N], 'subscribe' | 'unsubscribe'>;
  return { ...table, ...gateway } as CommandTable<SocketContext>;
}
