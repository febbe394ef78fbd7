// The wire contract, defined once: imported by the gateway, the client SDK, the docs generator and the examples.
export * from './wire.ts';
export * from './rest.ts';
export * from './api-docs.ts';
