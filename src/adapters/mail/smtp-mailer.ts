// The Mailer port over nodemailer's SMTP transport (SMTP_URL: smtp://user:pass@host:587 or smtps://…).
// The URL carries credentials, so it is never logged; errors name the host only.
import { createTransport } from 'nodemailer';
import type { Logger } from '../../ports/logger.ts';
import type { Mailer, MailMessage } from '../../ports/mailer.ts';

export interface SmtpMailerOptions {
  readonly url: string;
  readonly from: string;
  /** Connection, greeting and socket timeouts (default 15 s each), so a dead server cannot hold a send forever. */
  readonly timeoutMs?: number;
  readonly logger?: Logger;
}

/** host:port of an SMTP URL, without user or password, for logs and errors. */
export function smtpHostOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'the SMTP server';
  }
}

export class SmtpMailer implements Mailer {
  readonly kind = 'smtp' as const;
  private readonly transport: ReturnType<typeof createTransport>;
  private readonly host: string;

  constructor(private readonly opts: SmtpMailerOptions) {
    const timeout = opts.timeoutMs ?? 15_000;
    this.host = smtpHostOf(opts.url);
    this.transport = createTransport({
      url: opts.url,
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
    });
  }

  async send(message: MailMessage): Promise<void> {
    if (message.to.length === 0) return;
    let info: { accepted: unknown[]; rejected: unknown[] };
    try {
      info = (await this.transport.sendMail({
        from: this.opts.from,
        to: [...message.to],
        subject: message.subject,
        text: message.text,
      })) as unknown as { accepted: unknown[]; rejected: unknown[] };
    } catch (error) {
      throw new Error(
        `sending mail through ${this.host} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (info.rejected.length > 0)
      this.opts.logger?.warn(
        { rejected: info.rejected.length, smtp: this.host },
        'the SMTP server refused some recipients',
      );
    if (info.accepted.length === 0)
      throw new Error(`${this.host} accepted none of the ${message.to.length} recipient(s)`);
  }

  close(): void {
    this.transport.close();
  }
}
