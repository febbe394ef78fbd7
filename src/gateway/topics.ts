// Topic views shared by the namespaces.
import type { Services } from '../services/index.ts';

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
