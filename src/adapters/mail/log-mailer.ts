// Stands in for SMTP when SMTP_URL is unset (api.md): notifications are logged, not sent.
import type { Logger } from '../../ports/logger.ts';
import type { Mailer, MailMessage } from '../../ports/mailer.ts';

export class LoggingMailer implements Mailer {
  readonly kind = 'log' as const;

  constructor(private readonly logger: Logger) {}

  async send(message: MailMessage): Promise<void> {
    this.logger.info(
      { mail: { to: message.to, subject: message.subject, text: message.text } },
      `notification mail (SMTP_URL unset, not sent): ${message.subject}`,
    );
  }
}
