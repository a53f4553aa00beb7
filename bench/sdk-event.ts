// The SDK-shaped events of the ingestion benches (~330 bytes, as Amplitude's Node SDK sends them): user i of
// a pool with one device, a fresh insert_id, three event properties.
import { randomUUID } from 'node:crypto';

const TYPES = ['View', 'View', 'View', 'Click', 'Search', 'Add To Cart', 'Purchase'];
let seq = 0;

export function sdkEvent(user: number, now: number, type?: string) {
  const n = seq++;
  return {
    event_type: type ?? (TYPES[n % TYPES.length] as string),
    user_id: `user-${String(user).padStart(7, '0')}`,
    device_id: `device-${String(user).padStart(7, '0')}-a1b2c3`,
    time: now,
    insert_id: randomUUID(),
    event_id: n,
    session_id: now - (n % 600_000),
    event_properties: { page: `/p/${n % 10}`, price: (n % 50) + 0.99, plan: n % 3 === 0 ? 'pro' : 'free' },
    library: 'amplitude-node/1.5.0',
    platform: 'Node.js',
    os_name: 'linux',
    ip: '127.0.0.1',
  };
}
