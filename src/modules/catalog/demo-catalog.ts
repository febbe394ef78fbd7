// The demo catalog seeded into an empty database on first start: six categories, sixty products.
import type { CatalogService } from './catalog.service.ts';

type DemoProduct = readonly [sku: string, name: string, priceCents: number, onHand: number, description: string];

const DEMO: ReadonlyArray<{ slug: string; name: string; description: string; products: readonly DemoProduct[] }> = [
  {
    slug: 'coffee',
    name: 'Coffee & Tea',
    description: 'Single-origin beans, brewing gear and loose-leaf tea.',
    products: [
      ['COF-ETH-250', 'Ethiopia Yirgacheffe Beans 250 g', 1290, 80, 'Washed, light roast with notes of jasmine and bergamot.'],
      ['COF-COL-250', 'Colombia Huila Beans 250 g', 1150, 120, 'Medium roast, caramel and red apple.'],
      ['COF-ESP-1K', 'House Espresso Blend 1 kg', 2990, 40, 'Dark chocolate and hazelnut, made for milk drinks.'],
      ['COF-V60', 'Ceramic Pour-Over Dripper', 2490, 25, 'Spiral ribs and a single large hole for a clean cup.'],
      ['COF-KETTLE', 'Gooseneck Kettle 1 l', 5490, 15, 'Temperature control from 40 to 100 °C.'],
      ['COF-GRIND', 'Hand Grinder with Steel Burrs', 7900, 12, 'Stepless adjustment from espresso to French press.'],
      ['TEA-SEN-100', 'Japanese Sencha 100 g', 1490, 60, 'Steamed green tea from Shizuoka.'],
      ['TEA-EARL-100', 'Earl Grey Supreme 100 g', 990, 70, 'Black tea with bergamot and cornflower.'],
      ['TEA-POT', 'Glass Teapot with Infuser', 3290, 20, 'Borosilicate glass, 800 ml.'],
      ['COF-FILT-100', 'Paper Filters (100 pack)', 590, 200, 'Bleached filters for size 02 drippers.'],
    ],
  },
  {
    slug: 'kitchen',
    name: 'Kitchen',
    description: 'Knives, pans and tools that last.',
    products: [
      ['KIT-CHEF-20', 'Chef Knife 20 cm', 8900, 18, 'Forged stainless steel, full tang.'],
      ['KIT-PARING', 'Paring Knife 9 cm', 2900, 30, 'For peeling and fine work.'],
      ['KIT-BOARD-L', 'Walnut Cutting Board Large', 6500, 10, 'End-grain walnut, 45 x 30 cm.'],
      ['KIT-CAST-26', 'Cast Iron Skillet 26 cm', 4990, 22, 'Pre-seasoned, oven safe.'],
      ['KIT-DUTCH-5', 'Enamelled Dutch Oven 5 l', 11900, 8, 'Even heat for braises and bread.'],
      ['KIT-SPAT', 'Fish Spatula', 1490, 50, 'Thin flexible steel.'],
      ['KIT-SCALE', 'Digital Kitchen Scale', 2490, 35, '0.1 g resolution up to 3 kg.'],
      ['KIT-MIX-BOWL', 'Steel Mixing Bowls (set of 3)', 3490, 25, 'Nesting bowls with non-slip bases.'],
      ['KIT-THERMO', 'Instant-Read Thermometer', 2990, 40, 'Reads in two seconds.'],
      ['KIT-APRON', 'Canvas Apron', 3900, 30, 'Waxed canvas with leather straps.'],
    ],
  },
  {
    slug: 'outdoor',
    name: 'Outdoor',
    description: 'Gear for trails, camps and long days outside.',
    products: [
      ['OUT-PACK-30', 'Daypack 30 l', 8900, 20, 'Water-resistant with a padded laptop sleeve.'],
      ['OUT-BOTTLE', 'Insulated Bottle 750 ml', 2990, 90, 'Keeps drinks cold for 24 hours.'],
      ['OUT-HEADLAMP', 'Rechargeable Headlamp', 3990, 45, '400 lumens, USB-C.'],
      ['OUT-TENT-2', 'Two-Person Tent', 24900, 6, '1.9 kg, freestanding, three seasons.'],
      ['OUT-BAG-0', 'Sleeping Bag 0 °C', 15900, 9, 'Synthetic fill, compressible.'],
      ['OUT-STOVE', 'Compact Gas Stove', 4490, 16, 'Boils a litre in three and a half minutes.'],
      ['OUT-POLES', 'Trekking Poles (pair)', 6900, 14, 'Carbon, adjustable, cork grips.'],
      ['OUT-FIRST-AID', 'First Aid Kit', 2490, 50, 'Covers two people for a week.'],
      ['OUT-SHELL', 'Rain Shell Jacket', 17900, 11, 'Three-layer waterproof membrane.'],
      ['OUT-MAP-CASE', 'Waterproof Map Case', 1290, 40, 'A4, with a neck cord.'],
    ],
  },
  {
    slug: 'books',
    name: 'Books',
    description: 'Books on craft, food and software.',
    products: [
      ['BOK-DDIA', 'Designing Data-Intensive Applications', 4590, 30, 'Reliable, scalable, maintainable systems.'],
      ['BOK-SICP', 'Structure and Interpretation of Computer Programs', 5290, 12, 'The wizard book, second edition.'],
      ['BOK-SALT', 'Salt, Fat, Acid, Heat', 3490, 25, 'The four elements of good cooking.'],
      ['BOK-FLAVOR', 'The Flavor Matrix', 3190, 14, 'Pairing by chemistry.'],
      ['BOK-PRAG', 'The Pragmatic Programmer', 4190, 28, '20th anniversary edition.'],
      ['BOK-TRAILS', 'Long Trails of Europe', 2890, 16, 'Thirty walks from one week to three months.'],
      ['BOK-BREAD', 'Flour Water Salt Yeast', 3290, 20, 'Artisan bread and pizza at home.'],
      ['BOK-TYPE', 'Thinking with Type', 2790, 18, 'A guide for designers and writers.'],
      ['BOK-COFFEE', 'The World Atlas of Coffee', 3590, 22, 'From beans to brewing.'],
      ['BOK-STATES', 'Statecharts in Practice', 3990, 10, 'Modelling behaviour that stays understandable.'],
    ],
  },
  {
    slug: 'home',
    name: 'Home',
    description: 'Things for the rooms you live in.',
    products: [
      ['HOM-LAMP', 'Linen Table Lamp', 7900, 12, 'Oak base and a linen shade.'],
      ['HOM-THROW', 'Wool Throw', 8900, 15, 'Lambswool, 130 x 180 cm.'],
      ['HOM-CANDLE', 'Beeswax Candle Set', 2490, 60, 'Three pillar candles, unscented.'],
      ['HOM-VASE', 'Stoneware Vase', 3490, 20, 'Hand-thrown, matte glaze.'],
      ['HOM-CUSHION', 'Linen Cushion Cover', 2990, 40, '50 x 50 cm, stone washed.'],
      ['HOM-CLOCK', 'Wall Clock', 5490, 10, 'Silent sweep movement.'],
      ['HOM-PLANTER', 'Self-Watering Planter', 3990, 25, 'Reservoir lasts two weeks.'],
      ['HOM-TOWEL', 'Waffle Towel Set', 4490, 30, 'Two bath, two hand towels.'],
      ['HOM-RUG', 'Cotton Rug 120 x 180 cm', 12900, 7, 'Flat-woven, washable.'],
      ['HOM-MIRROR', 'Round Mirror 60 cm', 9900, 9, 'Brass frame.'],
    ],
  },
  {
    slug: 'electronics',
    name: 'Electronics',
    description: 'Small electronics that do one thing well.',
    products: [
      ['ELE-EARBUDS', 'Wireless Earbuds', 12900, 25, 'Active noise cancelling, eight hours.'],
      ['ELE-SPEAKER', 'Portable Speaker', 8900, 18, 'Waterproof, twelve hours of play.'],
      ['ELE-CHARGER', 'USB-C Charger 65 W', 4490, 60, 'Three ports, gallium nitride.'],
      ['ELE-CABLE', 'Braided USB-C Cable 2 m', 1490, 150, '100 W, USB 3.2.'],
      ['ELE-KEYBOARD', 'Mechanical Keyboard', 13900, 12, 'Hot-swappable switches, 75% layout.'],
      ['ELE-MOUSE', 'Ergonomic Mouse', 7900, 20, 'Vertical grip, Bluetooth.'],
      ['ELE-HUB', 'USB-C Hub 7-in-1', 5990, 30, 'HDMI, SD, Ethernet.'],
      ['ELE-EREADER', 'E-Reader 7"', 17900, 10, 'Warm light, waterproof.'],
      ['ELE-POWERBANK', 'Power Bank 20,000 mAh', 4990, 35, 'Charges a laptop once.'],
      ['ELE-LIMITED', 'Limited Edition Turntable', 39900, 3, 'Numbered run of one hundred.'],
    ],
  },
];

/** Seeds the demo catalog into an empty database. Returns how many products were created (0 if any existed). */
export async function seedDemoCatalog(catalog: CatalogService): Promise<number> {
  if ((await catalog.productCount()) > 0) return 0;
  let created = 0;
  for (const [position, category] of DEMO.entries()) {
    const { id } = await catalog.createCategory({ slug: category.slug, name: category.name, description: category.description, position });
    for (const [sku, name, price, onHand, description] of category.products) {
      await catalog.createProduct({ sku, name, description, categoryId: id, price, onHand });
      created++;
    }
  }
  return created;
}
