// Without SMTP_URL, notifications are logged, not sent (api.md); with it, they go through SMTP.
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createMailer, LoggingMailer, SmtpMailer, smtpHostOf } from '../../src/adapters/mail/index.ts';

describe('mailer selection', () => {
  it('logs the mail when SMTP_URL is unset', async () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }),
    );
    const mailer = createMailer({ smtpUrl: undefined, from: 'cs@x.io' }, logger);
    expect(mailer).toBeInstanceOf(LoggingMailer);
    expect(mailer.kind).toBe('log');
    await mailer.send({ to: ['a@x.io'], subject: 'Sync FAILED: Buyers', text: 'What to do: …' });
    const entry = JSON.parse(lines[0]!);
    expect(entry.mail).toEqual({ to: ['a@x.io'], subject: 'Sync FAILED: Buyers', text: 'What to do: …' });
    expect(entry.msg).toContain('SMTP_URL unset');
  });

  it('sends through SMTP when SMTP_URL is set, and never shows its password', () => {
    const mailer = createMailer(
      { smtpUrl: 'smtp://user:s3cret@mail.example.com:587', from: 'cs@x.io' },
      pino({ level: 'silent' }),
    );
    expect(mailer).toBeInstanceOf(SmtpMailer);
    expect(mailer.kind).toBe('smtp');
    mailer.close?.();
    expect(smtpHostOf('smtps://user:s3cret@mail.example.com:465')).toBe('smtps://mail.example.com:465');
  });
});
