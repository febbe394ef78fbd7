// The /warehouse namespace (staff only): the live shipment board, shipment moves, stock levels and restocks.
import type { AppSocket } from '../kernel/gateway/io-types.ts';
import { warehouseCommands, type TopicView, type WarehouseResults } from '../protocol/index.ts';
import { AppError } from '../domain/errors.ts';
import type { Identity } from '../domain/identity.ts';
import type { Services } from './services.ts';
import type { StockLevel } from './inventory/inventory.service.ts';
import { shipmentView } from './views.ts';
import { command, type ProtocolTable } from '../kernel/gateway/commands.ts';
import { productTopicView, subscribeTopic, unsubscribeTopic } from '../kernel/gateway/topics.ts';

export interface WarehouseContext {
  readonly identity: Identity;
  readonly socket: AppSocket;
}

const stockView = (level: StockLevel) => ({ productId: level.productId, available: level.available, onHand: level.onHand, version: level.version });

async function warehouseTopicView(services: Services, kind: string, id: string, topic: string): Promise<TopicView> {
  if (topic === 'shipments') return { topic: 'shipments', view: { shipments: (await services.shipments.list(undefined)).map(shipmentView) } };
  if (kind === 'shipment') return { topic: `shipment:${id}`, view: shipmentView(await services.shipments.getForStaff(id)) };
  if (kind === 'product') return { topic: `product:${id}`, view: await productTopicView(services, id) };
  throw new AppError('VALIDATION', `unknown topic ${JSON.stringify(topic)}; use shipments, shipment:<id> or product:<id>`);
}

/** Every `/warehouse` command of the protocol, with its handler. */
export type WarehouseCommandTable = ProtocolTable<WarehouseContext, typeof warehouseCommands, WarehouseResults>;

export function warehouseCommandTable(services: Services): WarehouseCommandTable {
  const c = warehouseCommands;
  return {
    'shipments:list': command(c['shipments:list'], async (_ctx, p) => ({
      shipments: (await services.shipments.list(p.state, p.limit)).map(shipmentView),
    })),
    'shipment:get': command(c['shipment:get'], async (_ctx, p) => ({ shipment: shipmentView(await services.shipments.getForStaff(p.shipmentId)) })),
    'shipment:advance': command(c['shipment:advance'], async (_ctx, p) => ({
      shipment: shipmentView(await services.shipments.advance(p.shipmentId, p)),
    })),
    'stock:get': command(c['stock:get'], async (_ctx, p) => {
      const level = await services.inventory.level(p.productId);
      if (!level) throw new AppError('NOT_FOUND', `product ${p.productId} does not exist`);
      return { stock: stockView(level) };
    }),
    'stock:restock': command(c['stock:restock'], async (_ctx, p) => ({
      stock: stockView(await services.inventory.restock(p.productId, p.quantity)),
    })),
    subscribe: command(c.subscribe, ({ socket }, p) => subscribeTopic(socket, p.topic, (kind, id) => warehouseTopicView(services, kind, id, p.topic))),
    unsubscribe: command(c.unsubscribe, ({ socket }, p) => unsubscribeTopic(socket, p.topic)),
  } satisfies WarehouseCommandTable;
}
