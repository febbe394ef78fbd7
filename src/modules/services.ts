// The service bag the gateway and flows are handed by the composition root.
import type { AuthService } from './identity/auth.service.ts';
import type { CartService } from './cart/cart.service.ts';
import type { CatalogService } from './catalog/catalog.service.ts';
import type { CheckoutService } from './cart/checkout.service.ts';
import type { InventoryService } from './inventory/inventory.service.ts';
import type { OrderService } from './order/order.service.ts';
import type { ShipmentService } from './shipment/shipment.service.ts';

export interface Services {
  readonly auth: AuthService;
  readonly catalog: CatalogService;
  readonly inventory: InventoryService;
  readonly carts: CartService;
  readonly checkout: CheckoutService;
  readonly orders: OrderService;
  readonly shipments: ShipmentService;
}
