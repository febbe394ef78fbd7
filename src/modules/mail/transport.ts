// How a composed e-mail leaves: to an SMTP server (SMTP_URL), or, without one, into an .eml file under
// DATA_DIR/mail/. A transport says whether a failed send reached the server: `MailNotSent` means it did not.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import MailComposer from 'nodemailer/lib/mail-composer';
import { parseConnectionUrl } from 'nodemailer/lib/shared';
import SMTPConnection from 'nodemailer/lib/smtp-connection';

/** A message ready to go: its raw RFC 5322 text and the SMTP envelope. */
export interface ComposedMail {
  readonly messageId: string;
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  /** A name for the message's file: `<timestamp>-<template>-<event seq>`. */
  readonly fileName: string;
  readonly raw: Buffer;
  readonly envelope: { readonly from: string; readonly to: readonly string[] };
}

export interface MailTransport {
  readonly kind: 'smtp' | 'file';
  /**
   * Delivers the message and answers the server's reply (or the file written). Throws `MailNotSent` when
   * nothing reached the server; any other error leaves it unknown whether the message was accepted.
   */
  send(mail: ComposedMail): Promise<string>;
}

/** The send failed before the message could have been accepted: trying again cannot make a duplicate. */
export class MailNotSent extends Error {
  override readonly name = 'MailNotSent';
  constructor(
    message: string,
    /** The server refused this message for good (a 5xx reply): trying again would be refused again. */
    readonly permanent: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Builds the raw message, with a Message-ID of our choosing (so the log, the server and the reader can be correlated). */
export async function composeMail(input: {
  readonly messageId: string;
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  readonly date: Date;
  readonly fileName: string;
  readonly headers?: Readonly<Record<string, string>>;
}): Promise<ComposedMail> {
  const node = new MailComposer({
    from: input.from,
    to: input.to,
    subject: input.subject,
    text: input.text,
    html: input.html,
    messageId: input.messageId,
    date: input.date,
    headers: { ...input.headers },
  }).compile();
  const raw = await node.build();
  const envelope = node.getEnvelope();
  return {
    messageId: input.messageId,
    from: input.from,
    to: input.to,
    subject: input.subject,
    fileName: input.fileName,
    raw,
    envelope: { from: envelope.from || '', to: envelope.to },
  };
}

export interface SmtpTimeouts {
  /** To open the TCP connection. @default 5_000 */
  readonly connectionMs: number;
  /** For the server's greeting once connected. @default 5_000 */
  readonly greetingMs: number;
  /** Of silence during the session. @default 15_000 */
  readonly socketMs: number;
}

export const DEFAULT_SMTP_TIMEOUTS: SmtpTimeouts = { connectionMs: 5_000, greetingMs: 5_000, socketMs: 15_000 };

type SmtpError = Error & { code?: string; responseCode?: number; permanent?: boolean };

/**
 * Sends each message over a connection of its own (nodemailer's SMTP client), opened with short timeouts.
 * Failures are told apart by when they happen: before the message was handed over (connecting, greeting,
 * authentication), or refused by the server with a reply code, nothing was accepted (`MailNotSent`); a
 * connection lost after the message was handed over leaves the outcome unknown. (nodemailer's own SMTP
 * transport does the same steps but reports every failure alike, so it could not tell these apart.)
 */
export class SmtpTransport implements MailTransport {
  readonly kind = 'smtp';
  private readonly options: Record<string, unknown>;
  private readonly auth: { user: string; pass: string } | undefined;

  constructor(url: string, timeouts: SmtpTimeouts = DEFAULT_SMTP_TIMEOUTS) {
    const { auth, ...options } = parseConnectionUrl(url);
    this.auth = auth;
    this.options = {
      ...options,
      connectionTimeout: timeouts.connectionMs,
      greetingTimeout: timeouts.greetingMs,
      socketTimeout: timeouts.socketMs,
      // Closing after QUIT waits no longer than this for the server.
      socketCloseTimeout: 1_000,
    };
  }

  /** The server, for logs (never the credentials). */
  get target(): string {
    return `${String(this.options.host ?? 'localhost')}:${String(this.options.port ?? (this.options.secure ? 465 : 587))}`;
  }

  async send(mail: ComposedMail): Promise<string> {
    const connection = new SMTPConnection(this.options);
    // The client reports a failure both as an 'error' event and to the step under way; each step waits on both.
    const failed = new Promise<never>((_, reject) => connection.on('error', reject));
    failed.catch(() => undefined);
    const step = <T>(start: (done: (error: Error | null | undefined, value?: T) => void) => void): Promise<T> =>
      Promise.race([new Promise<T>((resolve, reject) => start((error, value) => (error ? reject(error) : resolve(value as T)))), failed]);
    let handedOver = false;
    try {
      await step<void>((done) => connection.connect((error) => done(error)));
      if (this.auth) await step<boolean>((done) => connection.login(this.auth, done));
      handedOver = true;
      const info = await step<{ response?: string }>((done) => connection.send({ from: mail.envelope.from, to: [...mail.envelope.to] }, mail.raw, done));
      connection.quit();
      return info.response ?? '250 accepted';
    } catch (error) {
      connection.close();
      const e = error as SmtpError;
      // Before the hand-over (connect, greeting, authentication) the server has nothing to accept, and a refusal
      // there (a 535 for bad credentials, a 554 greeting) is about the server, not this message: try again later.
      if (!handedOver) throw new MailNotSent(`could not use the SMTP server ${this.target}: ${e.message}`, false, { cause: error });
      // A reply code is the server's answer to this message: it did not take it (for good on a 5xx).
      if (typeof e.responseCode === 'number') {
        throw new MailNotSent(`the SMTP server refused the message: ${e.message}`, e.permanent === true, { cause: error });
      }
      throw error;
    }
  }
}

/** Without SMTP: each message becomes `<dir>/<fileName>.eml`, readable by any mail program. */
export class FileTransport implements MailTransport {
  readonly kind = 'file';

  constructor(private readonly dir: string) {}

  async send(mail: ComposedMail): Promise<string> {
    const file = path.join(this.dir, `${mail.fileName}.eml`);
    try {
      await mkdir(this.dir, { recursive: true });
      await writeFile(file, mail.raw);
    } catch (error) {
      throw new MailNotSent(`could not write ${file}: ${(error as Error).message}`, false, { cause: error });
    }
    return `written to ${file}`;
  }
}
