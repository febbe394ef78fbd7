// The shipment module: the shipment kind, the customer's view of it on /store, the warehouse's board and moves on
// /warehouse, its topics and pushes, and the shipment saga (progress moves the order and the stock).
import { command } from '../../kernel/gateway/commands.ts';
import { changePushes, once } from '../../kernel/gateway/pushes.ts';
import { eraseOwned } from '../../kernel/privacy.ts';
import { defineModule, type StoreCommandTable, type WarehouseCommandTable } from '../../kernel/module.ts';
import { storeCommands, warehouseCommands, pushTopics } from '../../protocol/index.ts';
import { shipmentSaga } from './flows.ts';
import { shipmentKind } from './shipment.kind.ts';
import { ShipmentService } from './shipment.service.ts';
import { shipmentView } from './views.ts';

export { ShipmentService } from './shipment.service.ts';
export type { ShipmentActor } from './shipment.kind.ts';
export { shipmentView } from './views.ts';

declare module '../../kernel/registry.ts' {
  interface Services {
    readonly shipments: ShipmentService;
  }
}

export const shipmentModule = defineModule({
  name: 'shipment',
  kinds: { shipment: shipmentKind },
  create: ({ clock, runtime, actors, steps, services }) => {
    const shipments = new ShipmentService({ runtime, actors, clock });
    const s = storeCommands;
    const w = warehouseCommands;
    return {
      services: { shipments },
      commands: {
        store: {
          'shipment:get': command(s['shipment:get'], async ({ identity }, p) => ({ shipment: shipmentView(await shipments.get(identity, p.shipmentId)) })),
        } satisfies Partial<StoreCommandTable>,
        warehouse: {
          'shipments:list': command(w['shipments:list'], async (_ctx, p) => ({ shipments: (await shipments.list(p.state, p.limit)).map(shipmentView) })),
          'shipment:get': command(w['shipment:get'], async (_ctx, p) => ({ shipment: shipmentView(await shipments.getForStaff(p.shipmentId)) })),
          'shipment:advance': command(w['shipment:advance'], async (_ctx, p) => ({ shipment: shipmentView(await shipments.advance(p.shipmentId, p)) })),
        } satisfies Partial<WarehouseCommandTable>,
      },
      topics: {
        store: { shipment: { view: async (identity, id) => shipmentView(await shipments.get(identity, id)) } },
        warehouse: {
          shipments: { exact: true, view: async () => ({ shipments: (await shipments.list(undefined)).map(shipmentView) }) },
          shipment: { view: async (_identity, id) => shipmentView(await shipments.getForStaff(id)) },
        },
      },
      pushes: changePushes(runtime.changes$, 'shipment', (change) => ({
        topics: pushTopics['shipment:updated'](change),
        event: 'shipment:updated',
        payload: once(() => [shipmentView(change.actor)]),
      })),
      flows: [shipmentSaga({ runtime, steps, services })],
      erasure: {
        erase: (customerId) => eraseOwned(runtime, actors, 'shipment', customerId, ['shippingAddress']),
      },
    };
  },
});
