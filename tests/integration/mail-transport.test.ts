// The SMTP transport tells a send that cannot have been accepted (MailNotSent: safe to try again) from one whose
// outcome is unknown (never tried again), against a real SMTP server that refuses, rejects or goes silent.
import test from 'ava';
import { SMTPServer } from 'smtp-server';
import { composeMail, MailNotSent, SmtpTransport } from '../../src/modules/mail/transport.ts';
import { SmtpSink } from '../helpers/smtp.ts';

const message = () =>
  composeMail({
    messageId: '<welcome.1@emporium.local>',
    from: 'Emporium <shop@emporium.local>',
    to: 'ada@example.com',
    subject: 'Welcome',
    text: 'hello',
    html: '<p>hello</p>',
    date: new Date(),
    fileName: 'welcome-1',
  });

async function server(t: import('ava').ExecutionContext, options: ConstructorParameters<typeof SMTPServer>[0]): Promise<number> {
  const smtp = new SMTPServer({ secure: false, authOptional: true, disabledCommands: ['STARTTLS'], logger: false, ...options });
  smtp.on('error', () => undefined);
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => smtp.close(() => resolve())));
  return (smtp.server.address() as { port: number }).port;
}

const timeouts = { connectionMs: 2_000, greetingMs: 2_000, socketMs: 300 };

test('a delivered message comes back with the server answer and arrives with our Message-ID', async (t) => {
  const sink = await new SmtpSink().start();
  t.teardown(() => sink.stop());
  const response = await new SmtpTransport(sink.url, timeouts).send(await message());
  t.regex(response, /^250/);
  await sink.until((received) => received.length === 1);
  t.is(sink.received[0]!.messageId, '<welcome.1@emporium.local>');
  t.deepEqual(sink.received[0]!.to, ['ada@example.com']);
});

test('nothing listening, a refused login or a refused recipient: MailNotSent (permanent only for the message itself)', async (t) => {
  const sink = await new SmtpSink().start();
  const closedPort = sink.port;
  await sink.stop();
  const refused = await t.throwsAsync(new SmtpTransport(`smtp://127.0.0.1:${closedPort}`, timeouts).send(await message()), { instanceOf: MailNotSent });
  t.false(refused.permanent);

  const authPort = await server(t, {
    authOptional: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    onAuth: (_auth, _session, callback) => callback(new Error('bad credentials')),
  });
  const badLogin = await t.throwsAsync(new SmtpTransport(`smtp://user:wrong@127.0.0.1:${authPort}`, timeouts).send(await message()), {
    instanceOf: MailNotSent,
  });
  t.false(badLogin.permanent, 'a refused login is the server setup, not this message: retried');

  const rejectPort = await server(t, {
    onRcptTo: (_address, _session, callback) => callback(Object.assign(new Error('no such mailbox'), { responseCode: 550 })),
  });
  const rejected = await t.throwsAsync(new SmtpTransport(`smtp://127.0.0.1:${rejectPort}`, timeouts).send(await message()), { instanceOf: MailNotSent });
  t.true(rejected.permanent);
});

test('a server that goes silent after taking the message leaves the outcome unknown: not MailNotSent', async (t) => {
  const port = await server(t, {
    // Reads the whole message and never answers it.
    onData: (stream) => stream.resume(),
  });
  const error = await t.throwsAsync(new SmtpTransport(`smtp://127.0.0.1:${port}`, timeouts).send(await message()));
  t.false(error instanceof MailNotSent, String(error));
});
