// Sagas between actors: payment -> shipment, shipment progress -> order progress and stock, cancel/expiry -> release and refund.
import { concatMap } from 'rxjs';
import { shipmentIdFor } from '../domain/ids.ts';
import { unlessAlreadyDone } from '../services/access.ts';
import type { InventoryService } from '../services/inventory.service.ts';
import type { AppRuntime } from '../services/kinds.ts';
import type { PaymentProvider } from '../services/payment-provider.ts';
import type { ShipmentService } from '../services/shipment.service.ts';
import { ofType, type Flow } from './domain-events.ts';

export interface SagaDeps {
  readonly runtime: AppRuntime;
  readonly inventory: InventoryService;
  readonly shipments: ShipmentService;
  readonly payments: PaymentProvider;
}

/** Order paid: keep its stock until it ships, and open a shipment for the warehouse. */
export const orderPaidOpensShipment =
  ({ runtime, inventory, shipments }: SagaDeps): Flow =>
  (events$) =>
    events$.pipe(
      ofType('order.paid'),
      concatMap(async ({ payload: { orderId } }) => {
        await inventory.hold(orderId);
        const order = await runtime.get('order', orderId);
        if (!order || order.state !== 'paid') return;
        const shipment = await shipments.createForOrder(order);
        const linked = await unlessAlreadyDone(runtime.send('order', orderId, { type: 'SHIPMENT_CREATED', shipmentId: shipment.id }));
        // Cancelled between payment and now: the shipment must not go out.
        if (!linked && (await runtime.get('order', orderId))?.state === 'cancelled') {
          await unlessAlreadyDone(runtime.send('shipment', shipment.id, { type: 'CANCEL' }));
        }
      }),
    );

/** Shipment handed to the carrier: the reservation becomes a sale and the order follows. */
export const shipmentShippedCompletesSale =
  ({ runtime, inventory }: SagaDeps): Flow =>
  (events$) =>
    events$.pipe(
      ofType('shipment.shipped'),
      concatMap(async ({ payload }) => {
        await inventory.commitSale(payload.orderId);
        await unlessAlreadyDone(
          runtime.send('order', payload.orderId, { type: 'SHIPMENT_SHIPPED', carrier: payload.carrier, trackingNumber: payload.trackingNumber }),
        );
      }),
    );

export const shipmentDeliveredDeliversOrder =
  ({ runtime }: SagaDeps): Flow =>
  (events$) =>
    events$.pipe(
      ofType('shipment.delivered'),
      concatMap(({ payload }) => unlessAlreadyDone(runtime.send('order', payload.orderId, { type: 'SHIPMENT_DELIVERED' }))),
    );

/** The warehouse cancelled a shipment: its order is cancelled (and refunded) too. */
export const shipmentCancelledCancelsOrder =
  ({ runtime }: SagaDeps): Flow =>
  (events$) =>
    events$.pipe(
      ofType('shipment.cancelled'),
      concatMap(({ payload }) =>
        unlessAlreadyDone(runtime.send('order', payload.orderId, { type: 'CANCEL', reason: 'shipment cancelled by the warehouse' })),
      ),
    );

/** Cancelled order: stock back on the shelf, any shipment stopped, any payment refunded — each once. */
export const orderCancelledReleasesAndRefunds =
  ({ runtime, inventory, payments }: SagaDeps): Flow =>
  (events$) =>
    events$.pipe(
      ofType('order.cancelled'),
      concatMap(async ({ payload }) => {
        await inventory.release(payload.orderId);
        const shipmentId = shipmentIdFor(payload.orderId);
        if (await runtime.get('shipment', shipmentId)) await unlessAlreadyDone(runtime.send('shipment', shipmentId, { type: 'CANCEL' }));
        if (payload.refundDue > 0 && payload.chargeId) {
          const order = await runtime.get('order', payload.orderId);
          const { refundId } = await payments.refund({
            idempotencyKey: `refund:${payload.orderId}`,
            orderId: payload.orderId,
            chargeId: payload.chargeId,
            amount: payload.refundDue,
            currency: order?.snapshot.context.currency ?? 'EUR',
          });
          await unlessAlreadyDone(runtime.send('order', payload.orderId, { type: 'REFUND_COMPLETED', refundId }));
        }
      }),
    );

/** Unpaid order past its deadline: its reservation goes back to stock. */
export const orderExpiredReleasesStock =
  ({ inventory }: SagaDeps): Flow =>
  (events$) =>
    events$.pipe(
      ofType('order.expired'),
      concatMap(({ payload }) => inventory.release(payload.orderId)),
    );

export function sagas(deps: SagaDeps): Flow[] {
  return [
    orderPaidOpensShipment(deps),
    shipmentShippedCompletesSale(deps),
    shipmentDeliveredDeliversOrder(deps),
    shipmentCancelledCancelsOrder(deps),
    orderCancelledReleasesAndRefunds(deps),
    orderExpiredReleasesStock(deps),
  ];
}
