// Topics: parsing, subscribing (join first, then read the view) and the views shared by the namespaces.
import type { AppSocket } from './io-types.ts';
import { idSchema, type TopicView } from '../../protocol/index.ts';
import { AppError } from '../../domain/errors.ts';
import type { Services } from '../../modules/services.ts';

/** A product topic's view: the product with `version` set to its stock version, as `stock:changed` carries it. */
export async function productTopicView(services: Services, productId: string) {
  const product = await services.catalog.getProduct(productId);
  return { ...product, version: product.stockVersion };
}

/** `order:ord_1` -> ['order', 'ord_1']; a topic without a kind or an id yields an empty part. */
export function splitTopic(topic: string): [string, string] {
  const at = topic.indexOf(':');
  if (at <= 0 || at === topic.length - 1) return [topic, ''];
  return [topic.slice(0, at), topic.slice(at + 1)];
}

/**
 * Checks the caller may see `topic`, joins it, then answers with its current
 * view. The view is read after joining, so a change committed meanwhile
 * arrives as a push (which the client drops if its version is not newer)
 * instead of falling between the two.
 */
export async function subscribeTopic(socket: AppSocket, topic: string, resolve: (kind: string, id: string) => Promise<TopicView>): Promise<TopicView> {
  const [kind, id] = splitTopic(topic);
  if (id !== '' && !idSchema.safeParse(id).success) throw new AppError('VALIDATION', `topic ${JSON.stringify(topic.slice(0, 80))} has an invalid id`);
  // Access first (resolve throws FORBIDDEN / NOT_FOUND), so a refused socket never sits in the room.
  await resolve(kind, id);
  await socket.join(topic);
  return resolve(kind, id);
}

export async function unsubscribeTopic(socket: AppSocket, topic: string): Promise<{ topic: string }> {
  await socket.leave(topic);
  return { topic };
}
