import { mkdir, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { createLogger, type Logger } from '../config/logger';

/**
 * An SMTP server that keeps what it receives, for `npm start` and tests: the daily statistics e-mail
 * lands in `dir` as `<time>-<subject>.eml` (the message as received: open it in a mail client, or read
 * it as text) and `.html` (its HTML part, for a browser). Nothing is relayed. Listens on 127.0.0.1 only,
 * without TLS or authentication.
 */
export interface MailSink {
  /** SMTP_URL for the sender. */
  url: string;
  /** Every message received so far, parsed. */
  received: ParsedMail[];
  stop(): Promise<void>;
}

export interface MailSinkOptions {
  /** Where messages are written; none when absent. */
  dir?: string;
  /** 0 picks a free port. */
  port?: number;
  logger?: Logger;
  /** Answers RCPT TO for these addresses with 550 (a test of refused recipients). */
  refuse?: (address: string) => boolean;
}

const fileStem = (mail: ParsedMail) =>
  `${new Date().toISOString().replace(/[:.]/g, '-')}-${(mail.subject ?? 'no subject').replace(/[^\p{L}\p{N}]+/gu, '-').slice(0, 80).replace(/^-|-$/g, '')}`;

export async function startMailSink(options: MailSinkOptions = {}): Promise<MailSink> {
  const logger = options.logger ?? createLogger('silent', 'mail-sink');
  const received: ParsedMail[] = [];
  if (options.dir) await mkdir(options.dir, { recursive: true });

  async function keep(raw: Buffer): Promise<void> {
    const mail = await simpleParser(raw);
    received.push(mail);
    if (!options.dir) return;
    const stem = path.join(options.dir, fileStem(mail));
    await writeFile(`${stem}.eml`, raw);
    if (mail.html) await writeFile(`${stem}.html`, mail.html);
    logger.info({ subject: mail.subject, file: `${stem}.eml` }, 'e-mail received');
  }

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (options.refuse?.(address.address)) return callback(Object.assign(new Error('no such mailbox'), { responseCode: 550 }));
      callback();
    },
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        keep(Buffer.concat(chunks)).then(
          () => callback(),
          (error) => callback(error),
        );
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => logger.error({ err: error }, 'mail sink error'));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
