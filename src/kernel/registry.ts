// The application's open lists — actor kinds, domain events, services — which each module extends by declaration
// merging. The kernel reads them as types and names no entry itself.
import type { ActorRuntime, KindOf, LiveActor } from './actors/runtime.ts';

/**
 * Every actor kind, by name, with its machine. A module adds its own:
 *
 * @example
 * declare module '../../kernel/registry.ts' {
 *   interface ActorKinds { readonly cart: CartMachine }
 * }
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by the modules through declaration merging
export interface ActorKinds {}

/** The domain events each module's machines emit (`emit(...)` into the outbox), by module. */
// biome-ignore lint/suspicious/noEmptyInterface: filled by the modules through declaration merging
export interface DomainEvents {}

/** The services each module offers the others (and the tests), by name. */
// biome-ignore lint/suspicious/noEmptyInterface: filled by the modules through declaration merging
export interface Services {}

export type AppRuntime = ActorRuntime<ActorKinds>;
export type AppKind = KindOf<ActorKinds>;
/** A live actor of kind `K`, typed by its machine. */
export type ActorOf<K extends AppKind> = LiveActor<ActorKinds[K]>;
/** Any domain event payload of any module. */
export type DomainEventPayload = DomainEvents[keyof DomainEvents];
export type DomainEventType = DomainEventPayload extends { readonly type: infer T } ? T : never;
