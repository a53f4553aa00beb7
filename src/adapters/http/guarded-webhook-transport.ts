// The WebhookTransport port over node:http(s), guarded against server-side request forgery
// (docs/security.md, "Outbound calls"). The address is checked when the connection is made, on the address
// actually dialled: DNS answers are filtered before connecting (a name that resolves to 127.0.0.1 is never
// dialled) and the socket's remote address is checked again once connected, so a DNS answer that changes
// between the URL check and the call (rebinding) gains nothing. Redirects are not followed (a 3xx is the
// answer), and the receiver's body is read and thrown away: only its status is reported.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { type AddressClass, classifyAddress, hostListed, isLocalHostName } from '../../domain/ip-address.ts';
import type { WebhookRequest, WebhookResponse, WebhookTransport } from '../../ports/webhook-transport.ts';

export interface WebhookAddressPolicy {
  /** Every address may be reached (WEBHOOK_ALLOW_PRIVATE=true): for receivers on the operator's network. */
  readonly allowPrivate?: boolean;
  /**
   * Hosts the operator trusts to be private (WEBHOOK_ALLOWED_HOSTS): `hooks.internal` exactly, `.internal`
   * any subdomain. Other hosts may still reach public addresses.
   */
  readonly allowedHosts?: readonly string[];
}

/** dns.lookup with `all: true`; replaceable so a test can play a DNS server that rebinds. */
export type Resolve = (
  host: string,
  options: { all: true; family?: number },
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

class AddressNotAllowed extends Error {
  readonly code = 'EADDRNOTALLOWED';
  constructor(readonly addressClass: AddressClass | 'local name') {
    super(`the webhook's host resolves to a ${addressClass} address`);
  }
}

const refusal = (cls: AddressClass | 'local name') =>
  `the webhook's host is a ${cls} address, which webhooks may not reach; the operator can allow it with WEBHOOK_ALLOWED_HOSTS or WEBHOOK_ALLOW_PRIVATE=true`;

export class GuardedWebhookTransport implements WebhookTransport {
  constructor(
    private readonly policy: WebhookAddressPolicy = {},
    private readonly resolve: Resolve = dnsLookup as unknown as Resolve,
  ) {}

  /** null when `address` may be dialled for `host`; the reason otherwise. */
  private forbidden(host: string, address: string): AddressClass | null {
    if (this.policy.allowPrivate || hostListed(host, this.policy.allowedHosts ?? [])) return null;
    const cls = classifyAddress(address);
    // Not an IP (cannot happen for a resolved address): refuse rather than guess.
    if (cls === null) return 'reserved';
    return cls === 'public' ? null : cls;
  }

  async post(request: WebhookRequest): Promise<WebhookResponse> {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return { kind: 'network', problem: 'the webhook URL is not valid' };
    }
    const host = url.hostname;
    const trusted = this.policy.allowPrivate || hostListed(host, this.policy.allowedHosts ?? []);
    if (!trusted && isLocalHostName(host)) return { kind: 'network', problem: refusal('loopback') };
    const literal = classifyAddress(host.replace(/^\[|\]$/g, ''));
    if (literal !== null) {
      const cls = this.forbidden(host, host.replace(/^\[|\]$/g, ''));
      if (cls) return { kind: 'network', problem: refusal(cls) };
    }

    // Only addresses that pass the policy are handed to the socket.
    const lookup = (
      name: string,
      options: { all?: boolean; family?: number },
      callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
    ) => {
      this.resolve(name, { ...options, all: true }, (err, addresses) => {
        if (err) return callback(err, []);
        const allowed = addresses.filter((a) => this.forbidden(host, a.address) === null);
        if (allowed.length === 0) {
          const first = addresses[0];
          return callback(
            new AddressNotAllowed(first ? (this.forbidden(host, first.address) ?? 'reserved') : 'reserved'),
            [],
          );
        }
        if (options.all) return callback(null, allowed);
        return callback(null, allowed[0]!.address, allowed[0]!.family);
      });
    };

    return new Promise<WebhookResponse>((resolve) => {
      let settled = false;
      const finish = (outcome: WebhookResponse) => {
        if (settled) return;
        settled = true;
        resolve(outcome);
      };
      const client = url.protocol === 'https:' ? https : http;
      const body = Buffer.from(request.body, 'utf8');
      const req = client.request(url, {
        method: 'POST',
        headers: { ...request.headers, 'content-length': String(body.length) },
        lookup: lookup as never,
        // A fresh socket per delivery: a pooled one would skip the connect-time check.
        agent: false,
        signal: AbortSignal.timeout(request.timeoutMs),
      });
      req.on('socket', (socket: Socket) => {
        const check = () => {
          const remote = socket.remoteAddress;
          const cls = remote === undefined ? 'reserved' : this.forbidden(host, remote);
          if (cls) req.destroy(new AddressNotAllowed(cls));
        };
        if (socket.remoteAddress) check();
        else socket.once('connect', check);
      });
      req.on('response', (res) => {
        // The status is the answer; the body (maybe an internal service's page) is never kept.
        res.resume();
        res.on('error', () => {});
        finish({ kind: 'response', status: res.statusCode ?? 0 });
      });
      req.on('error', (error: Error & { code?: string; addressClass?: AddressClass }) => {
        if (error instanceof AddressNotAllowed) finish({ kind: 'network', problem: refusal(error.addressClass) });
        else if (error.name === 'TimeoutError' || error.name === 'AbortError')
          finish({ kind: 'network', problem: `no answer within ${request.timeoutMs} ms` });
        else finish({ kind: 'network', problem: error.code ?? 'the connection failed' });
      });
      req.end(body);
    });
  }
}
