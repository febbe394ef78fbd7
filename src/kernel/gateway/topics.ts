// Topics: the registry of what a namespace's clients may follow, parsing, and subscribing (join first, then read the view).
import type { AppSocket } from './io-types.ts';
import { idSchema, type TopicView } from '../../protocol/index.ts';
import { AppError } from '../../domain/errors.ts';
import type { Identity } from '../../domain/identity.ts';
import { watchRoom } from './interest.ts';

/**
 * One topic family a module serves in a namespace: `<name>:<id>` (an actor or a product), or the bare `<name>`
 * when `exact` (a board such as `shipments`). `view` checks the caller may see it — throwing `FORBIDDEN` or
 * `NOT_FOUND` — and reads its current view.
 */
export interface TopicDefinition {
  readonly exact?: boolean;
  readonly view: (identity: Identity, id: string) => Promise<unknown>;
}

/** A namespace's topics by name, gathered from the modules. */
export type TopicTable = Readonly<Record<string, TopicDefinition>>;

/** `order:ord_1` -> ['order', 'ord_1']; a topic without a kind or an id yields an empty part. */
export function splitTopic(topic: string): [string, string] {
  const at = topic.indexOf(':');
  if (at <= 0 || at === topic.length - 1) return [topic, ''];
  return [topic.slice(0, at), topic.slice(at + 1)];
}

/** How to name a namespace's topics in an error: `cart:<id>, order:<id> or shipments`. */
function described(table: TopicTable): string {
  const names = Object.entries(table).map(([name, definition]) => (definition.exact ? name : `${name}:<id>`));
  return names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : (names[0] ?? 'nothing');
}

/** Resolves `topic` against `table` to its current view; throws `VALIDATION` for a topic the namespace does not serve. */
export function topicResolver(table: TopicTable) {
  return async (identity: Identity, topic: string): Promise<TopicView> => {
    const [name, id] = splitTopic(topic);
    const definition = Object.hasOwn(table, name) ? table[name] : undefined;
    if (!definition || Boolean(definition.exact) !== (id === '')) {
      throw new AppError('VALIDATION', `unknown topic ${JSON.stringify(topic.slice(0, 80))}; use ${described(table)}`);
    }
    if (id !== '' && !idSchema.safeParse(id).success) throw new AppError('VALIDATION', `topic ${JSON.stringify(topic.slice(0, 80))} has an invalid id`);
    return { topic, view: await definition.view(identity, id) } as TopicView;
  };
}

/**
 * Checks the caller may see `topic`, joins it, then answers with its current
 * view. The view is read after joining (and, in a cluster, after every node
 * has acknowledged that this node watches the topic), so a change committed
 * meanwhile arrives as a push (which the client drops if its version is not
 * newer) instead of falling between the two.
 */
export async function subscribeTopic(socket: AppSocket, topic: string, resolve: () => Promise<TopicView>): Promise<TopicView> {
  // Access first (resolve throws FORBIDDEN / NOT_FOUND / VALIDATION), so a refused socket never sits in the room.
  await resolve();
  await socket.join(topic);
  await watchRoom(socket, topic);
  return resolve();
}

export async function unsubscribeTopic(socket: AppSocket, topic: string): Promise<{ topic: string }> {
  // The gateway's own rooms (`~principal:…`, `~token:…`) are how logout reaches a socket: never left on request.
  if (topic.startsWith('~')) throw new AppError('VALIDATION', `unknown topic ${JSON.stringify(topic.slice(0, 80))}`);
  await socket.leave(topic);
  return { topic };
}
