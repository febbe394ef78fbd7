// `test` for the cluster suite: skips (saying why) on a machine without redis-server or PostgreSQL,
// unless REQUIRE_CLUSTER_SERVICES is set (as .ci/run does), where their absence is a failure. SKIP_CLUSTER_TESTS=1 skips it.
import anyTest, { type TestFn } from 'ava';
import { missingClusterServices } from '../../scripts/local-services.ts';

// SKIP_CLUSTER_TESTS=1 skips the (slower) cluster suite on purpose.
const missing = process.env.SKIP_CLUSTER_TESTS ? ['SKIP_CLUSTER_TESTS unset'] : missingClusterServices();
if (missing.length > 0 && process.env.REQUIRE_CLUSTER_SERVICES) {
  throw new Error(`the cluster suite needs ${missing.join(' and ')} (apt-get install redis-server postgresql)`);
}

function skipping(): TestFn {
  const reason = `needs ${missing.join(' and ')}`;
  const skip = (title: string, ...rest: unknown[]) => (anyTest.skip as (...args: unknown[]) => void)(`${title} (skipped: ${reason})`, ...rest);
  const noop = () => undefined;
  return Object.assign(skip, {
    serial: Object.assign(skip, { skip }),
    skip,
    before: Object.assign(noop, { always: noop }),
    after: Object.assign(noop, { always: noop }),
    beforeEach: noop,
    afterEach: Object.assign(noop, { always: noop }),
  }) as unknown as TestFn;
}

export const test: TestFn = missing.length > 0 ? skipping() : anyTest;
export default test;
