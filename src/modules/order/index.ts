// The order module: the order kind, payment (through a provider, exactly once per attempt) and cancellation, its
// /store commands, topic and pushes, the order saga, and the sweep that settles payments a crash interrupted.
import { AppError } from '../../domain/errors.ts';
import { createBreaker, type BreakerOptions } from '../../kernel/breaker.ts';
import { command } from '../../kernel/gateway/commands.ts';
import { eraseOwned, ownedActors } from '../../kernel/privacy.ts';
import { changePushes, once } from '../../kernel/gateway/pushes.ts';
import { defineModule, type StoreCommandTable } from '../../kernel/module.ts';
import { storeCommands as c, pushTopics } from '../../protocol/index.ts';
import { orderSaga } from './flows.ts';
import { GuardedPaymentProvider, PAYMENTS_BREAKER } from './guarded-payments.ts';
import { orderKind } from './order.kind.ts';
import { OrderService } from './order.service.ts';
import { SimulatedPaymentProvider, type PaymentProvider } from './payment-provider.ts';
import { orderView } from './views.ts';

export { OrderService } from './order.service.ts';
export { SimulatedPaymentProvider, type PaymentProvider } from './payment-provider.ts';
export { AUTHORIZATION_STALL_MS, type OrderActor } from './order.kind.ts';
export { orderView } from './views.ts';

declare module '../../kernel/registry.ts' {
  interface Services {
    readonly orders: OrderService;
    readonly payments: PaymentProvider;
  }
}

const FINAL_ORDER_STATES: ReadonlySet<string> = new Set(['delivered', 'cancelled', 'expired']);

export interface OrderModuleOptions {
  /** The payment provider; the simulated one (test cards, configurable latency) by default. */
  readonly payments?: PaymentProvider | undefined;
  /** Settings of the breaker every provider call goes through, over `PAYMENTS_BREAKER`'s. */
  readonly paymentsBreaker?: Partial<BreakerOptions> | undefined;
}

export const orderModule = (options: OrderModuleOptions = {}) =>
  defineModule({
    name: 'order',
    kinds: { order: orderKind },
    create: ({ config, clock, db, runtime, actors, steps, logger, services, metrics }) => {
      const provider = options.payments ?? new SimulatedPaymentProvider(db.knex, clock, config.paymentLatencyMs);
      // Behind a breaker: a provider that keeps failing is answered UNAVAILABLE at once (emporium_breaker_state{breaker="payments"}).
      const breaker = createBreaker('payments', { ...PAYMENTS_BREAKER, ...options.paymentsBreaker }, { metrics, logger: logger.child({ part: 'payments' }) });
      const payments: PaymentProvider = new GuardedPaymentProvider(provider, breaker);
      const orders = new OrderService({ runtime, actors, payments, clock, logger });
      return {
        services: { orders, payments },
        commands: {
          store: {
            'order:get': command(c['order:get'], async ({ identity }, p) => ({ order: orderView(await orders.get(identity, p.orderId)) })),
            'order:pay': command(c['order:pay'], async ({ identity }, p) => ({
              order: orderView(
                await orders.pay(identity, p.orderId, p.requestId, {
                  number: p.payment.cardNumber,
                  expMonth: p.payment.expMonth,
                  expYear: p.payment.expYear,
                  cvc: p.payment.cvc,
                }),
              ),
            })),
            'order:cancel': command(c['order:cancel'], async ({ identity }, p) => ({ order: orderView(await orders.cancel(identity, p.orderId)) })),
            'orders:list': command(c['orders:list'], async ({ identity }, p) => {
              const page = await orders.history(identity, p);
              return { orders: page.orders.map(orderView), nextCursor: page.nextCursor };
            }),
          } satisfies Partial<StoreCommandTable>,
        },
        topics: { store: { order: { view: async (identity, id) => orderView(await orders.get(identity, id)) } } },
        pushes: changePushes(runtime.changes$, 'order', (change) => ({
          topics: pushTopics['order:updated'](change),
          event: 'order:updated',
          payload: once(() => [orderView(change.actor)]),
        })),
        flows: [orderSaga({ runtime, steps, services, payments })],
        stop: async () => breaker.shutdown(),
        // An account is deleted only once its orders are over; their shipping addresses are then erased.
        erasure: {
          check: async (customerId) => {
            const open = (await ownedActors(actors, customerId, 'order')).filter((row) => !FINAL_ORDER_STATES.has(row.state));
            if (open.length > 0) {
              throw new AppError('INVALID_TRANSITION', `orders in progress (${open.length}); cancel them or wait until they are delivered`, {
                details: { orders: open.map((row) => ({ id: row.id, state: row.state })) },
              });
            }
          },
          erase: (customerId) => eraseOwned(runtime, actors, 'order', customerId, ['shippingAddress']),
        },
      };
    },
  });
