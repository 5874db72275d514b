// Who is asking: the client's address (the TCP peer, or what trusted proxies put in X-Forwarded-For)
// and user agent, bounded, from an HTTP request or a WebSocket upgrade alike.
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

export const clientAddressLengthMax = 64;
export const userAgentLengthMax = 256;

export interface ClientInfo {
  /** null only when the socket is already gone. */
  address: string | null;
  userAgent: string | null;
}

function normalize(address: string | undefined): string | null {
  if (!address) return null;
  const bare = address.trim().replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
  return isIP(bare) ? bare.slice(0, clientAddressLengthMax) : null;
}

/** With hops > 0, the address that many entries from the right of X-Forwarded-For (proxies append). */
export function clientInfo(request: IncomingMessage | undefined, trustedProxyHops: number): ClientInfo {
  if (!request) return { address: null, userAgent: null };
  let address = normalize(request.socket?.remoteAddress);
  if (trustedProxyHops > 0) {
    const header = request.headers['x-forwarded-for'];
    const hops = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((entry) => entry.trim()).filter(Boolean);
    address = normalize(hops[hops.length - trustedProxyHops]) ?? address;
  }
  const agent = request.headers['user-agent'];
  const userAgent = typeof agent === 'string' && agent.length > 0 ? agent.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, userAgentLengthMax) : null;
  return { address, userAgent };
}

/**
 * The key a rate limit counts an address under: an IPv4 address as is, an IPv6 address by its /64
 * (one subscriber's whole network, which they can rotate through freely).
 */
export function addressKey(address: string | null): string {
  if (!address) return 'unknown';
  if (isIP(address) !== 6) return address;
  const [head = '', tail = ''] = address.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups]
    : headGroups;
  return `${groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, '').toLowerCase()).join(':')}::/64`;
}
