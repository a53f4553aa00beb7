// Picks the mailer from configuration: SMTP when SMTP_URL is set, else the logging stand-in.
import type { Logger } from '../../ports/logger.ts';
import type { Mailer } from '../../ports/mailer.ts';
import { LoggingMailer } from './log-mailer.ts';
import { SmtpMailer } from './smtp-mailer.ts';

export { LoggingMailer } from './log-mailer.ts';
export { SmtpMailer, type SmtpMailerOptions, smtpHostOf } from './smtp-mailer.ts';

export function createMailer(
  mail: { readonly smtpUrl: string | undefined; readonly from: string },
  logger: Logger,
): Mailer & { close?(): void } {
  if (mail.smtpUrl === undefined) return new LoggingMailer(logger);
  return new SmtpMailer({ url: mail.smtpUrl, from: mail.from, logger });
}
