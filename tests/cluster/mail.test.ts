// E-mail on two nodes (one PostgreSQL, one Redis) sending to one real SMTP server: a burst of registrations spread
// over both nodes gets exactly one welcome message per account, whichever node's relay queues it and whichever
// node's dispatcher claims it; every event delivered again to both nodes (a replayed outbox) sends nothing more.
import { registerCustomer } from '../helpers/app.ts';
import type { ServerChild } from '../helpers/child.ts';
import { ClusterLab, eventually, mapLimit } from '../helpers/cluster.ts';
import test from '../helpers/cluster-test.ts';
import { SmtpSink } from '../helpers/smtp.ts';

const ACCOUNTS = 40;
const lab = new ClusterLab();
let sink: SmtpSink | undefined;
let a: ServerChild;
let b: ServerChild;

lab.install(test, async () => {
  sink = await new SmtpSink().start();
  [a, b] = await lab.cluster(2, { SMTP_URL: sink.url });
});
// After the lab's own `after` (hooks run in the order they were declared): the nodes are gone before their server.
test.after.always(() => sink?.stop());

/** `emporium_mail_sent_total{template, outcome}` of one node. */
async function sentBy(node: ServerChild, template: string, outcome: string): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  const match = new RegExp(`^emporium_mail_sent_total\\{template="${template}",outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

test('a burst of registrations on both nodes sends exactly one welcome per account; a replayed outbox sends none again', async (t) => {
  const smtp = sink!;
  const customers = await mapLimit(Array.from({ length: ACCOUNTS }), 10, (_, i) => registerCustomer((i % 2 === 0 ? a : b).url, `Burst ${i}`));
  t.is(new Set(customers.map((customer) => customer.customerId)).size, ACCOUNTS);
  const welcomed = () => customers.every((customer) => smtp.to(customer.email).length > 0);
  await smtp.until(welcomed, 60_000, `${ACCOUNTS} welcome mails`);
  // Everything relayed and nothing left to send on either node: no second copy is on its way.
  const settled = async () =>
    (await lab.pendingOutbox()) === 0 && (await lab.count(`select count(*) as n from mail_log where state in ('queued', 'sending')`)) === 0;
  await eventually(settled, 'the outbox and the mail queue drained', 30_000);

  const perAccount = () => customers.map((customer) => smtp.to(customer.email).length);
  t.deepEqual(perAccount(), Array(ACCOUNTS).fill(1), 'one message per account');
  t.is(smtp.received.length, ACCOUNTS);
  t.is(new Set(smtp.received.map((mail) => mail.messageId)).size, ACCOUNTS, 'no Message-ID twice');
  t.true(smtp.received.every((mail) => mail.subject === 'Welcome to Emporium'));
  t.is(await lab.count(`select count(*) as n from mail_log where template = 'welcome' and state = 'sent'`), ACCOUNTS);
  const [byA, byB] = [await sentBy(a, 'welcome', 'sent'), await sentBy(b, 'welcome', 'sent')];
  t.log(`welcomes sent by node A: ${byA}, by node B: ${byB}`);
  t.is(byA + byB, ACCOUNTS, 'the two nodes sent them between them, once');

  // Every event delivered again, to whichever node's relay takes it (as after a crash before the deliveries were recorded).
  // One transaction, so no relay sees a row fanned out without its deliveries.
  const client = await lab.pg.connect();
  let replayed = 0;
  try {
    await client.query('begin');
    await client.query('delete from outbox_deliveries');
    replayed = (await client.query('update outbox set dispatched_at = null, fanned_out_at = null')).rowCount ?? 0;
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
  t.true(replayed >= ACCOUNTS);
  await eventually(
    async () => (await lab.count('select count(*) as n from outbox_deliveries')) > 0 && (await settled()),
    'the replayed events delivered again',
    30_000,
  );
  t.deepEqual(perAccount(), Array(ACCOUNTS).fill(1), 'still one message per account');
  t.is(smtp.received.length, ACCOUNTS);
  t.is(await lab.count('select count(*) as n from mail_log'), ACCOUNTS);
  t.is(smtp.errors.length, 0);
});
