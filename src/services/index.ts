// The service bag the gateway and flows are handed by the composition root.
import type { AuthService } from './auth.service.ts';
import type { CartService } from './cart.service.ts';
import type { CatalogService } from './catalog.service.ts';
import type { CheckoutService } from './checkout.service.ts';
import type { InventoryService } from './inventory.service.ts';
import type { OrderService } from './order.service.ts';
import type { ShipmentService } from './shipment.service.ts';

export interface Services {
  readonly auth: AuthService;
  readonly catalog: CatalogService;
  readonly inventory: InventoryService;
  readonly carts: CartService;
  readonly checkout: CheckoutService;
  readonly orders: OrderService;
  readonly shipments: ShipmentService;
}
