// `npm start`: one Emporium node from the environment, stopped cleanly on SIGINT/SIGTERM.
import { createApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const app = createApp(config);
  // Our own code handles its errors; a stray rejection from a client library losing its connection is logged, not fatal.
  process.on('unhandledRejection', (reason) => app.logger.error({ err: reason }, 'unhandled rejection'));
  const { url } = await app.start();
  process.stdout.write(`Emporium is running at ${url}  (REST ${url}/api/products, Socket.IO namespaces /store and /warehouse)\n`);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.logger.info({ signal }, 'shutting down');
    app.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        app.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(`emporium failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
