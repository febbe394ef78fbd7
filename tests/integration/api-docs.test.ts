// The machine-readable protocol: /openapi.json describes every REST route the server answers, /asyncapi.json
// every command and push of both namespaces, both generated from the schemas the gateway validates with.
import test from 'ava';
import { pushEvents, storeCommands, warehouseCommands } from '../../src/protocol/index.ts';
import { createProduct, getJson, startApp, type TestApp } from '../helpers/app.ts';

let app: TestApp;

test.before(async () => {
  app = await startApp();
});

test.after.always(() => app?.stop());

type Doc = Record<string, any>;

test('/openapi.json is OpenAPI 3.1 and every documented route is really served', async (t) => {
  const { status, body } = await getJson<Doc>(`${app.url}/openapi.json`);
  t.is(status, 200);
  t.is(body.openapi, '3.1.0');
  t.regex(body.info.version, /^\d+\.\d+\.\d+/);
  const product = await createProduct(app.app, { onHand: 1 });
  for (const [path, methods] of Object.entries(body.paths as Record<string, Record<string, Doc>>)) {
    for (const method of Object.keys(methods)) {
      const url = `${app.url}${path.replace('{id}', product.id)}`;
      const response = await fetch(url, {
        method: method.toUpperCase(),
        headers: { 'content-type': 'application/json' },
        body: method === 'post' ? '{}' : undefined,
      });
      const text = await response.text();
      t.false(text.includes('no route'), `${method.toUpperCase()} ${path} is documented but not served`);
      t.true(
        String(response.status) in methods[method]!.responses || response.status === 400,
        `${method.toUpperCase()} ${path} answered ${response.status}, which is not documented`,
      );
    }
  }
  // Request and answer schemas come from zod: the register body is strict and names its fields.
  const register = body.paths['/api/auth/register'].post.requestBody.content['application/json'].schema;
  t.deepEqual(register.required.sort(), ['email', 'name', 'password']);
  t.false(register.additionalProperties);
  const page = body.paths['/api/products'].get.responses['200'].content['application/json'].schema;
  t.deepEqual(Object.keys(page.properties.items.items.properties).sort(), [
    'archived',
    'attributes',
    'available',
    'categoryId',
    'createdAt',
    'currency',
    'description',
    'id',
    'imageUrl',
    'images',
    'name',
    'price',
    'rating',
    'sku',
    'stockVersion',
    'updatedAt',
    'version',
  ]);
});

test('/asyncapi.json lists every command (payload and ack) and push of both namespaces', async (t) => {
  const { status, body } = await getJson<Doc>(`${app.url}/asyncapi.json`);
  t.is(status, 200);
  t.is(body.asyncapi, '3.0.0');
  for (const [channel, commands] of [
    ['store', storeCommands],
    ['warehouse', warehouseCommands],
  ] as const) {
    const messages = body.channels[channel].messages as Record<string, Doc>;
    for (const command of Object.keys(commands)) {
      t.truthy(messages[command]?.payload, `${channel} ${command} payload`);
      t.truthy(messages[`${command}.ack`]?.payload?.anyOf, `${channel} ${command} ack`);
      t.is(body.operations[`${channel}.${command}`].reply.messages[0].$ref, `#/channels/${channel}/messages/${command}.ack`);
    }
    t.true(Object.keys(messages).includes('stock:changed') && Object.keys(messages).includes('resync'));
  }
  // The inspector's stream is the warehouse's alone; the store hears every other push.
  const warehouseOnly = ['actor:changed'];
  t.deepEqual(
    Object.keys(pushEvents).filter((push) => !(push in body.channels.store.messages)),
    warehouseOnly,
    'the store hears every push but the inspector stream',
  );
  t.true(
    warehouseOnly.every((push) => push in body.channels.warehouse.messages),
    'the warehouse hears the inspector stream',
  );
  const addItem = body.channels.store.messages['cart:addItem'].payload;
  t.deepEqual(addItem.required, ['cartId', 'productId', 'quantity']);
  t.is(addItem.properties.quantity.maximum, 100);
});
