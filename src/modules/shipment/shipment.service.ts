// Shipments: created for paid orders, read by their customer, listed and advanced by warehouse staff.
import { randomBytes } from 'node:crypto';
import { AppError } from '../../domain/errors.ts';
import { shipmentIdFor } from '../../domain/ids.ts';
import type { Clock, Identity } from '../../domain/identity.ts';
import type { ShipmentEvent, ShipmentState } from './shipment.machine.ts';
import type { ActorRepo } from '../../kernel/db/actor.repo.ts';
import type { ADVANCE_TARGETS } from '../../protocol/index.ts';
import { ownedBy } from '../../kernel/access.ts';
import type { AppRuntime } from '../../kernel/registry.ts';
import type { OrderActor } from '../order/index.ts';
import type { ShipmentActor } from './shipment.kind.ts';

export interface ShipmentServiceOptions {
  readonly runtime: AppRuntime;
  readonly actors: ActorRepo;
  readonly clock: Clock;
}

/** Targets staff can advance a shipment to. `exception` takes a reason; `shipped` a carrier and tracking number. */
export type AdvanceTarget = (typeof ADVANCE_TARGETS)[number];

export interface AdvanceRequest {
  readonly to: AdvanceTarget;
  readonly carrier?: string | undefined;
  readonly trackingNumber?: string | undefined;
  readonly reason?: string | undefined;
}

export const DEFAULT_CARRIER = 'Emporium Post';

const newTrackingNumber = () => `EMP${randomBytes(6).toString('hex').toUpperCase()}`;

type ShipmentCommand = ShipmentEvent extends infer E ? (E extends { at: number } ? Omit<E, 'at'> : never) : never;

/** The machine event that moves a shipment in `state` to `to`. */
function eventFor(shipment: ShipmentActor, request: AdvanceRequest): ShipmentCommand {
  const exception = shipment.snapshot.context.exception;
  if (shipment.state === 'exception' && exception?.from === request.to) return { type: 'RESUME' };
  switch (request.to) {
    case 'picking':
      return { type: 'PICK' };
    case 'packed':
      return { type: 'PACK' };
    case 'shipped':
      return { type: 'SHIP', carrier: request.carrier ?? DEFAULT_CARRIER, trackingNumber: request.trackingNumber ?? newTrackingNumber() };
    case 'inTransit':
      return { type: 'MARK_IN_TRANSIT' };
    case 'delivered':
      return { type: 'DELIVER' };
    case 'exception':
      return { type: 'REPORT_EXCEPTION', reason: request.reason ?? 'reported by warehouse staff' };
    case 'cancelled':
      return { type: 'CANCEL' };
  }
}

export class ShipmentService {
  constructor(private readonly o: ShipmentServiceOptions) {}

  async get(identity: Identity, shipmentId: string): Promise<ShipmentActor> {
    return ownedBy(identity, 'shipment', shipmentId, await this.o.runtime.get('shipment', shipmentId));
  }

  async getForStaff(shipmentId: string): Promise<ShipmentActor> {
    const shipment = await this.o.runtime.get('shipment', shipmentId);
    if (!shipment) throw new AppError('NOT_FOUND', `shipment ${shipmentId} does not exist`);
    return shipment;
  }

  async list(state: ShipmentState | undefined, limit = 200): Promise<ShipmentActor[]> {
    const rows = await this.o.actors.listByKind('shipment', { state, limit });
    return rows.map((row) => this.o.runtime.fromRow('shipment', row));
  }

  /** Moves a shipment on; the event (e.g. `RESUME` out of an exception) is chosen from the shipment as it is in its own step. */
  advance(shipmentId: string, request: AdvanceRequest): Promise<ShipmentActor> {
    return this.o.runtime.send('shipment', shipmentId, (shipment) => eventFor(shipment, request) as never);
  }

  /** Creates the shipment of a paid order; its id derives from the order's, so a second call returns the first. */
  async createForOrder(order: OrderActor): Promise<ShipmentActor> {
    const id = shipmentIdFor(order.id);
    const { actor } = await this.o.runtime.create('shipment', id, {
      id,
      orderId: order.id,
      customerId: order.snapshot.context.customerId,
      items: order.snapshot.context.items,
      shippingAddress: order.snapshot.context.shippingAddress,
      at: this.o.clock(),
    });
    return actor;
  }
}
