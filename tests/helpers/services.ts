// Real backing services for cluster tests: the same local redis-server and PostgreSQL starters `npm run cluster` uses.
export { freePort, startPostgres, startRedis, type PostgresServer, type RedisServer } from '../../scripts/local-services.ts';
