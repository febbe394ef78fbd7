// The order saga: payment opens a shipment; cancellation releases stock, stops the shipment and refunds; expiry
// releases stock. Each step is applied once in effect (SagaSteps), however often its event is delivered.
import { concatMap } from 'rxjs';
import { shipmentIdFor } from '../../domain/ids.ts';
import { ofType, sagaOf, type Flow, type FlowDefinition } from '../../kernel/outbox/flows.ts';
import type { SagaSteps } from '../../kernel/outbox/saga-steps.ts';
import type { AppRuntime, Services } from '../../kernel/registry.ts';
import type { PaymentProvider } from './payment-provider.ts';

export interface OrderSagaDeps {
  readonly runtime: AppRuntime;
  readonly steps: SagaSteps;
  /** Inventory and shipments, read when a step runs. */
  readonly services: Pick<Services, 'inventory' | 'shipments'>;
  readonly payments: PaymentProvider;
}

/** Order paid: keep its stock until it ships, and open a shipment for the warehouse. */
export const orderPaidOpensShipment =
  ({ runtime, steps, services }: OrderSagaDeps): Flow =>
  (events$) =>
    events$.pipe(
      ofType('order.paid'),
      concatMap(async ({ payload: { orderId } }) => {
        await services.inventory.hold(orderId);
        const order = await runtime.get('order', orderId);
        if (order?.state !== 'paid') return;
        const shipment = await services.shipments.createForOrder(order);
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

/** Cancelled order: stock back on the shelf, any shipment stopped, any payment refunded — each once. */
export const orderCancelledReleasesAndRefunds =
  ({ runtime, steps, services, payments }: OrderSagaDeps): Flow =>
  (events$) =>
    events$.pipe(
      ofType('order.cancelled'),
      concatMap(async ({ payload }) => {
        await services.inventory.release(payload.orderId);
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
  ({ services }: OrderSagaDeps): Flow =>
  (events$) =>
    events$.pipe(
      ofType('order.expired'),
      concatMap(({ payload }) => services.inventory.release(payload.orderId)),
    );

/** One flow for the order's events, so an order's steps run in its commit order (paid before cancelled). */
export function orderSaga(deps: OrderSagaDeps): FlowDefinition {
  return sagaOf(
    'order-saga',
    ['order.paid', 'order.cancelled', 'order.expired'],
    [orderPaidOpensShipment(deps), orderCancelledReleasesAndRefunds(deps), orderExpiredReleasesStock(deps)],
  );
}
