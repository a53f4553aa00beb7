// The address rules outbound webhook calls follow (docs/security.md): every spelling of a non-public
// address is classified as such once the WHATWG URL parser (which fetch and our transport use) has read it.
import { describe, expect, it } from 'vitest';
import { classifyAddress, parseIpv6 } from '../../src/domain/ip-address.ts';

const hostOf = (url: string) => new URL(url).hostname;

describe('classifyAddress', () => {
  it('sees loopback, private, link-local, multicast and unspecified IPv4 in every spelling', () => {
    const cases: [string, string][] = [
      ['http://127.0.0.1/', 'loopback'],
      ['http://2130706433/', 'loopback'],
      ['http://0x7f000001/', 'loopback'],
      ['http://0177.0.0.1/', 'loopback'],
      ['http://127.1/', 'loopback'],
      ['http://0x7f.1/', 'loopback'],
      ['http://0/', 'unspecified'],
      ['http://0.0.0.0/', 'unspecified'],
      ['http://10.1.2.3/', 'private'],
      ['http://172.16.0.1/', 'private'],
      ['http://172.31.255.255/', 'private'],
      ['http://192.168.1.1/', 'private'],
      ['http://100.64.0.1/', 'shared'],
      ['http://169.254.169.254/', 'link-local'],
      ['http://2852039166/', 'link-local'],
      ['http://224.0.0.1/', 'multicast'],
      ['http://255.255.255.255/', 'reserved'],
      ['http://8.8.8.8/', 'public'],
      ['http://172.32.0.1/', 'public'],
    ];
    for (const [url, cls] of cases) expect(classifyAddress(hostOf(url)), url).toBe(cls);
  });

  it('sees the same in IPv6, IPv4-mapped and NAT64 forms included', () => {
    const cases: [string, string][] = [
      ['http://[::1]:6379/', 'loopback'],
      ['http://[0:0:0:0:0:0:0:1]/', 'loopback'],
      ['http://[::]/', 'unspecified'],
      ['http://[::ffff:127.0.0.1]/', 'loopback'],
      ['http://[::ffff:7f00:1]/', 'loopback'],
      ['http://[::ffff:169.254.169.254]/', 'link-local'],
      ['http://[::ffff:10.0.0.1]/', 'private'],
      ['http://[64:ff9b::10.0.0.1]/', 'private'],
      ['http://[2002:7f00:1::]/', 'loopback'],
      ['http://[fc00::1]/', 'unique-local'],
      ['http://[fd12:3456::1]/', 'unique-local'],
      ['http://[fe80::1]/', 'link-local'],
      ['http://[ff02::1]/', 'multicast'],
      ['http://[2606:4700:4700::1111]/', 'public'],
      ['http://[::ffff:8.8.8.8]/', 'public'],
    ];
    for (const [url, cls] of cases) expect(classifyAddress(hostOf(url)), url).toBe(cls);
    // As sockets and DNS report them.
    expect(classifyAddress('::ffff:127.0.0.1')).toBe('loopback');
    expect(classifyAddress('fe80::1%eth0')).toBe('link-local');
  });

  it('returns null for host names and parses only real IPv6', () => {
    expect(classifyAddress('example.com')).toBeNull();
    expect(classifyAddress('1.2.3')).toBeNull();
    expect(parseIpv6('1::2::3')).toBeNull();
    expect(parseIpv6('1:2:3:4:5:6:7:8:9')).toBeNull();
    expect(parseIpv6('::ffff:1.2.3.4')).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]);
  });
});
