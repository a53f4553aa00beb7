// Outgoing mail for notifications. The SMTP adapter sends it; without SMTP_URL a logging adapter stands in.
export interface MailMessage {
  readonly to: readonly string[];
  readonly subject: string;
  /** Plain text; notification mails carry no HTML. */
  readonly text: string;
}

export interface Mailer {
  /** `smtp` really sends; `log` only writes the mail to the log (SMTP_URL unset). */
  readonly kind: 'smtp' | 'log';
  /** Resolves once the server accepted the mail for at least one recipient; rejects otherwise. */
  send(message: MailMessage): Promise<void>;
}
