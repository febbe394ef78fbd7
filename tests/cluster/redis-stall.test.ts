// A node whose Redis connection stalls while it starts still joins the cluster's pushes once Redis answers:
// its adapter's subscriptions are made (or retried) until they hold (found by the history test, issue 7).
import test from '../helpers/cluster-test.ts';
import { guestToken, nextEvent, ok } from '../helpers/app.ts';
import type { ServerChild } from '../helpers/child.ts';
import { ClusterLab, eventually, sleep } from '../helpers/cluster.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

const lab = new ClusterLab();
let a: ServerChild;
let b: ServerChild;
let proxy: TcpProxy;

test.before(async () => {
  await lab.boot();
  a = await lab.node('node-a');
  proxy = await TcpProxy.start({ host: '127.0.0.1', port: lab.redis.port }, 'redis-b');
  // B's Redis link accepts the connection but passes nothing on until restored: it starts like that.
  proxy.cut({ existing: 'freeze', incoming: 'stall' });
  b = await lab.node('node-b', { REDIS_URL: proxy.rewrite(lab.redis.url) });
});

test.after.always(async () => {
  await lab.dispose();
  await proxy?.close();
});

async function redisUp(node: ServerChild): Promise<boolean> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  return /^emporium_redis_up 1$/m.test(text);
}

test('after a stalled start, a change made through A reaches a client of B', async (t) => {
  await sleep(1_500); // B has been up with its subscriber stuck behind the stalled link
  t.false(await redisUp(b), 'B does not claim a healthy link while its subscriptions do not hold');
  proxy.restore();
  await eventually(() => redisUp(b), 'B reporting its Redis link up', 15_000);

  const token = await guestToken(a.url);
  const [viaA, viaB] = [await lab.store(a, token), await lab.store(b, token)];
  const { cart } = await ok(viaA, 'cart:create', {});
  await ok(viaB, 'subscribe', { topic: `cart:${cart.id}` });
  const productId = await lab.insertProduct(10);
  const pushed = nextEvent(viaB, 'cart:updated', (view: { id: string; version: number }) => view.id === cart.id && view.version === 2, 10_000);
  await ok(viaA, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 });
  t.is((await pushed).version, 2);
});
