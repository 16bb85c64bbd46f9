/**
 * A running node: the client API server (listening first, so /health answers
 * 503 while the node opens its data) plus the CacheNode behind it.
 */
import { CacheNode } from '../node/index.js';
import type { Logger, NodeConfig } from '../node/index.js';
import { ApiServer } from './server.js';

export interface RunningNode {
  readonly node: CacheNode;
  readonly api: ApiServer;
  /** Closes client sockets, the node (transport, then storage: pending writes are flushed). */
  close(): Promise<void>;
}

export async function startNodeServer(config: NodeConfig, logger: Logger, seed?: number): Promise<RunningNode> {
  const api = await ApiServer.listen({
    host: config.listen.host,
    port: config.listen.port,
    maxFrameBytes: config.limits.maxFrameBytes,
    limits: {
      maxKeyBytes: config.limits.maxKeyBytes,
      maxValueBytes: config.limits.maxValueBytes,
      maxBatchKeys: config.limits.maxBatchKeys,
      cacheMaxBytes: config.cache.maxBytes,
    },
    token: config.token,
    logger,
  });
  let node: CacheNode;
  try {
    node = await CacheNode.start(seed === undefined ? { config, logger } : { config, logger, seed });
  } catch (e) {
    await api.close();
    throw e;
  }
  api.attach(node);
  let closing: Promise<void> | null = null;
  return {
    node,
    api,
    close: () => {
      closing ??= (async () => {
        await api.close();
        await node.close();
      })();
      return closing;
    },
  };
}
