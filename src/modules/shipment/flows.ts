// The shipment saga: the warehouse's progress moves the order (shipped, delivered) and the stock (sold); a
// cancelled shipment cancels its order, which refunds.
import { concatMap } from 'rxjs';
import { ofType, sagaOf, type Flow, type FlowDefinition } from '../../kernel/outbox/flows.ts';
import type { SagaSteps } from '../../kernel/outbox/saga-steps.ts';
import type { AppRuntime, Services } from '../../kernel/registry.ts';

export interface ShipmentSagaDeps {
  readonly runtime: AppRuntime;
  readonly steps: SagaSteps;
  readonly services: Pick<Services, 'inventory'>;
}

/** Shipment handed to the carrier: the reservation becomes a sale and the order follows. */
export const shipmentShippedCompletesSale =
  ({ runtime, steps, services }: ShipmentSagaDeps): Flow =>
  (events$) =>
    events$.pipe(
      ofType('shipment.shipped'),
      concatMap(async ({ payload }) => {
        // Shipped before the payment saga linked it to its order (that step is retrying): wait for the link,
        // or the order would refuse SHIPMENT_SHIPPED and stay fulfilling for good. The delivery is retried.
        const order = await runtime.get('order', payload.orderId);
        if (order?.state === 'paid') throw new Error(`order ${payload.orderId} is not linked to its shipment yet; retrying`);
        await services.inventory.commitSale(payload.orderId);
        await steps.apply({
          step: 'shipment.shipped',
          kind: 'order',
          id: payload.orderId,
          event: { type: 'SHIPMENT_SHIPPED', carrier: payload.carrier, trackingNumber: payload.trackingNumber },
          isDone: (order) => order.state === 'shipped' || order.state === 'delivered',
        });
      }),
    );

export const shipmentDeliveredDeliversOrder =
  ({ steps }: ShipmentSagaDeps): Flow =>
  (events$) =>
    events$.pipe(
      ofType('shipment.delivered'),
      concatMap(({ payload }) =>
        steps.apply({
          step: 'shipment.delivered',
          kind: 'order',
          id: payload.orderId,
          event: { type: 'SHIPMENT_DELIVERED' },
          isDone: (order) => order.state === 'delivered',
        }),
      ),
    );

/** The warehouse cancelled a shipment: its order is cancelled (and refunded) too. */
export const shipmentCancelledCancelsOrder =
  ({ steps }: ShipmentSagaDeps): Flow =>
  (events$) =>
    events$.pipe(
      ofType('shipment.cancelled'),
      concatMap(({ payload }) =>
        steps.apply({
          step: 'shipment.cancelled',
          kind: 'order',
          id: payload.orderId,
          // The customer's cancel stops the shipment first and says so; any other cancel came from the warehouse.
          event: { type: 'CANCEL', reason: payload.reason ?? 'shipment cancelled by the warehouse' },
          isDone: (order) => order.state === 'cancelled',
        }),
      ),
    );

/** One flow for the shipment's events, so its steps run in commit order (shipped before delivered). */
export function shipmentSaga(deps: ShipmentSagaDeps): FlowDefinition {
  return sagaOf(
    'shipment-saga',
    ['shipment.shipped', 'shipment.delivered', 'shipment.cancelled'],
    [shipmentShippedCompletesSale(deps), shipmentDeliveredDeliversOrder(deps), shipmentCancelledCancelsOrder(deps)],
  );
}
