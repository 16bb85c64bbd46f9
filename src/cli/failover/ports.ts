/** Free TCP ports on 127.0.0.1, asked of the OS (port 0), for a throwaway cluster. */
import { createServer } from 'node:net';

function osPort(host: string): Promise<number> {
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

/** `count` pairs of distinct free ports (client, peer). */
export async function freePortPairs(count: number, host = '127.0.0.1'): Promise<{ client: number; peer: number }[]> {
  const seen = new Set<number>();
  const take = async (): Promise<number> => {
    for (;;) {
      const p = await osPort(host);
      if (p !== 0 && !seen.has(p)) {
        seen.add(p);
        return p;
      }
    }
  };
  const out: { client: number; peer: number }[] = [];
  for (let i = 0; i < count; i++) out.push({ client: await take(), peer: await take() });
  return out;
}
