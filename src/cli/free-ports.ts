/** Free TCP ports asked of the OS (port 0), for throwaway clusters (dev tools, jepsen-lite, demos). */
import { createServer } from 'node:net';

/** One port that was free a moment ago. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** `n` distinct free ports. */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const seen = new Set<number>();
  while (seen.size < n) {
    const p = await freePort(host);
    if (p !== 0) seen.add(p);
  }
  return [...seen];
}

/** `count` pairs of distinct free ports (client, peer). */
export async function freePortPairs(count: number, host = '127.0.0.1'): Promise<{ client: number; peer: number }[]> {
  const ports = await freePorts(2 * count, host);
  return Array.from({ length: count }, (_, i) => ({ client: ports[2 * i] as number, peer: ports[2 * i + 1] as number }));
}
