// Sagas between actors: checkout -> order, payment -> shipment, shipment progress -> order progress and stock, cancel/expiry -> release and refund.
import { concatMap, merge } from 'rxjs';
import { shipmentIdFor } from '../domain/ids.ts';
import type { CheckoutService } from './cart/checkout.service.ts';
import type { InventoryService } from './inventory/inventory.service.ts';
import type { AppRuntime } from './kinds.ts';
import type { PaymentProvider } from './order/payment-provider.ts';
import type { SagaSteps } from '../kernel/outbox/saga-steps.ts';
import type { ShipmentService } from './shipment/shipment.service.ts';
import { ofType, type DomainEventType, type Flow, type FlowDefinition } from '../kernel/outbox/flows.ts';

export interface SagaDeps {
  readonly runtime: AppRuntime;
  readonly steps: SagaSteps;
  readonly checkout: CheckoutService;
  readonly inventory: InventoryService;
  readonly shipments: ShipmentService;
  readonly payments: PaymentProvider;
}

/** Cart checked out: its order exists (the checkout creates it; this finishes the job if that node died in between). */
export const cartCheckedOutCreatesOrder =
  ({ runtime, checkout }: SagaDeps): Flow =>
  (events$) =>
    events$.pipe(
      ofType('cart.checkedOut'),
      concatMap(async ({ payload }) => {
        const cart = await runtime.get('cart', payload.cartId);
        if (cart?.state === 'checkedOut') await checkout.ensureOrder(cart);
      }),
    );

/** Order paid: keep its stock until it ships, and open a shipment for the warehouse. */
export const orderPaidOpensShipment =
  ({ runtime, steps, inventory, shipments }: SagaDeps): Flow =>
  (events$) =>
    events$.pipe(
      ofType('order.paid'),
      concatMap(async ({ payload: { orderId } }) => {
        await inventory.hold(orderId);
        const order = await runtime.get('order', orderId);
        if (order?.state !== 'paid') return;
        const shipment = await shipments.createForOrder(order);
        const linked = await steps.apply({
          step: 'order.paid.linkShipment',
          kind: 'order',
          id: orderId,
          event: { type: 'SHIPMENT_CREATED', shipmentId: shipment.id },
          isDone: (current) => current.snapshot.context.shipmentId === shipment.id,
          // Cancelled between payment and now: expected, and the shipment must not go out.
          mayRefuse: (current) => current.state === 'cancelled',
        });
        if (!linked) {
          await steps.apply({
            step: 'order.paid.cancelShipment',
            kind: 'shipment',
            id: shipment.id,
            event: { type: 'CANCEL' },
            isDone: (current) => current.state === 'cancelled',
          });
        }
      }),
    );

/** Shipment handed to the carrier: the reservation becomes a sale and the order follows. */
export const shipmentShippedCompletesSale =
  ({ runtime, steps, inventory }: SagaDeps): Flow =>
  (events$) =>
    events$.pipe(
      ofType('shipment.shipped'),
      concatMap(async ({ payload }) => {
        // Shipped before the payment saga linked it to its order (that step is retrying): wait for the link,
        // or the order would refuse SHIPMENT_SHIPPED and stay fulfilling for good. The delivery is retried.
        const order = await runtime.get('order', payload.orderId);
        if (order?.state === 'paid') throw new Error(`order ${payload.orderId} is not linked to its shipment yet; retrying`);
        await inventory.commitSale(payload.orderId);
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
  ({ steps }: SagaDeps): Flow =>
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
  ({ steps }: SagaDeps): Flow =>
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

/** Cancelled order: stock back on the shelf, any shipment stopped, any payment refunded — each once. */
export const orderCancelledReleasesAndRefunds =
  ({ runtime, steps, inventory, payments }: SagaDeps): Flow =>
  (events$) =>
    events$.pipe(
      ofType('order.cancelled'),
      concatMap(async ({ payload }) => {
        await inventory.release(payload.orderId);
        const shipmentId = shipmentIdFor(payload.orderId);
        if (await runtime.get('shipment', shipmentId)) {
          await steps.apply({
            step: 'order.cancelled.cancelShipment',
            kind: 'shipment',
            id: shipmentId,
            event: { type: 'CANCEL' },
            isDone: (shipment) => shipment.state === 'cancelled',
          });
        }
        if (payload.refundDue > 0 && payload.chargeId) {
          const order = await runtime.get('order', payload.orderId);
          const { refundId } = await payments.refund({
            idempotencyKey: `refund:${payload.orderId}`,
            orderId: payload.orderId,
            chargeId: payload.chargeId,
            amount: payload.refundDue,
            currency: order?.snapshot.context.currency ?? 'EUR',
          });
          await steps.apply({
            step: 'order.cancelled.refund',
            kind: 'order',
            id: payload.orderId,
            event: { type: 'REFUND_COMPLETED', refundId },
            isDone: (current) => current.snapshot.context.refund?.status === 'refunded',
          });
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

/** Flows every step of which reads one actor kind's events: the relay keeps each actor's events in order within a flow. */
function sagaOf(name: string, on: readonly DomainEventType[], steps: readonly Flow[]): FlowDefinition {
  return { name, delivery: 'critical', on, run: (events$) => merge(...steps.map((step) => step(events$))) };
}

/**
 * The sagas: money and stock, so each is `critical`. They are grouped by the
 * actor whose events they follow, because their steps depend on each other's
 * order (an order is shipped before it is delivered): within one flow the
 * relay hands over an actor's events one at a time, in commit order.
 */
export function sagas(deps: SagaDeps): FlowDefinition[] {
  return [
    sagaOf('checkout-saga', ['cart.checkedOut'], [cartCheckedOutCreatesOrder(deps)]),
    sagaOf(
      'order-saga',
      ['order.paid', 'order.cancelled', 'order.expired'],
      [orderPaidOpensShipment(deps), orderCancelledReleasesAndRefunds(deps), orderExpiredReleasesStock(deps)],
    ),
    sagaOf(
      'shipment-saga',
      ['shipment.shipped', 'shipment.delivered', 'shipment.cancelled'],
      [shipmentShippedCompletesSale(deps), shipmentDeliveredDeliversOrder(deps), shipmentCancelledCancelsOrder(deps)],
    ),
  ];
}
