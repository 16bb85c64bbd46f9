/** The client API: WebSocket protocol at /v1, GET /health, GET /metrics. */
export { ApiServer, CLIENT_PATH, CLOSE_GOING_AWAY, CLOSE_POLICY, CLOSE_TOO_BIG } from './server.js';
export type { ApiServerOptions, MapEvent } from './server.js';
export { admin, dispatch, mapFields, statusFields, MAP_VERSION, PROTOCOL_VERSION } from './requests.js';
export type { Limits, NodeRequest, ReplyTo, Response } from './requests.js';
export { requestSchemas, parseRequest, fastParse, isOp } from './schema.js';
export type { Op, Request } from './schema.js';
export { fromResult, fromThrown, rejected, wireError } from './errors.js';
export type { ErrorCode, WireError } from './errors.js';
export { startNodeServer } from './run.js';
export type { RunningNode } from './run.js';
