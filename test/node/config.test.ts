import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadStartConfig, parseStartFlags } from '../../src/cli/start.js';
import { checkLayoutFile } from '../../src/node/layout-file.js';
import { ConfigError, effectiveReplication, memberUrl, parseMembersFlag, parseNodeConfig } from '../../src/node/index.js';

const MEMBERS = '1=127.0.0.1:7001/7101,2=127.0.0.1:7002/7102,3=127.0.0.1:7003/7103';
const FLAGS = [
  '--id', '1',
  '--data', '/tmp/x',
  '--listen', '127.0.0.1:7001',
  '--peer-listen', '127.0.0.1:7101',
  '--members', MEMBERS,
  '--secret', 'sixteen-chars-secret',
];

function issuesOf(input: unknown): string[] {
  try {
    parseNodeConfig(input);
  } catch (e) {
    if (e instanceof ConfigError) return [...e.issues];
    throw e;
  }
  return [];
}

const valid = {
  id: 1,
  data: '/tmp/x',
  listen: '127.0.0.1:7001',
  peerListen: '127.0.0.1:7101',
  members: [{ id: 1, host: '127.0.0.1', clientPort: 7001, peerPort: 7101 }],
  secret: 'sixteen-chars-secret',
};

describe('node config', () => {
  it('fills defaults', () => {
    const c = parseNodeConfig(valid);
    expect(c.raft).toMatchObject({ tickMs: 100, electionTicks: 10, heartbeatTicks: 1 });
    expect(c.limits).toMatchObject({ maxKeyBytes: 1024, maxValueBytes: 1 << 20, requestTimeoutMs: 5000 });
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 7001 });
    expect(c.logFormat).toBe('json');
  });

  it.each([
    ['raft.tickMs', { raft: { tickMs: 0 } }],
    ['raft.electionTicks', { raft: { electionTicks: 'ten' } }],
    ['raft.heartbeatTicks', { raft: { heartbeatTicks: 10 } }],
    ['cache.maxBytes', { cache: { maxBytes: -5 } }],
    ['limits.maxPending', { limits: { maxPending: 1.5 } }],
    ['limits.maxFrameBytes', { limits: { maxFrameBytes: 100 } }],
    ['listen', { listen: 'localhost' }],
    ['secret', { secret: 'short' }],
    ['logFormat', { logFormat: 'xml' }],
    ['members', { members: [{ id: 2, host: 'h', clientPort: 1, peerPort: 2 }] }],
    ['members[1].id', { members: [valid.members[0], valid.members[0]] }],
    ['members[0].clientPort', { members: [{ id: 1, host: 'h', clientPort: 70000, peerPort: 2 }] }],
    ['id', { id: 0 }],
    ['(root)', { colour: 'blue' }],
  ])('names the field %s', (field, patch) => {
    const issues = issuesOf({ ...valid, ...patch });
    expect(issues.length).toBeGreaterThan(0);
    expect(issues.some((i) => i.startsWith(`${field}: `))).toBe(true);
  });

  it('parses the members flag', () => {
    expect(parseMembersFlag(MEMBERS)[1]).toEqual({ id: 2, host: '127.0.0.1', clientPort: 7002, peerPort: 7102 });
    expect(issuesOf({ ...valid, members: parseMembersFlag('1=127.0.0.1:7001') })[0]).toMatch(/^members\[0\]/);
    expect(memberUrl({ host: '::1', clientPort: 7001 })).toBe('ws://[::1]:7001/v1');
  });
});

describe('start flags', () => {
  it('parses flags in both spellings and refuses unknown ones', () => {
    expect(parseStartFlags(['--id=3', '--log-level', 'debug'])).toEqual({ id: '3', logLevel: 'debug' });
    expect(() => parseStartFlags(['--nope', '1'])).toThrow(/unknown option/);
    expect(() => parseStartFlags(['--id'])).toThrow(/needs a value/);
  });

  it('takes --unsafe-stale-reads as a switch; it is off unless given', async () => {
    expect(parseStartFlags(['--unsafe-stale-reads', '--id', '2'])).toEqual({ unsafeStaleReads: 'true', id: '2' });
    expect((await loadStartConfig([...FLAGS, '--unsafe-stale-reads'])).unsafeStaleReads).toBe(true);
    expect((await loadStartConfig(FLAGS)).unsafeStaleReads).toBe(false);
  });

  it('builds a config from flags alone', async () => {
    const c = await loadStartConfig(FLAGS);
    expect(c.id).toBe(1);
    expect(c.members.map((m) => m.id)).toEqual([1, 2, 3]);
    expect(c.peerListen).toEqual({ host: '127.0.0.1', port: 7101 });
  });

  it('lets flags override the config file, and names a bad field from the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'raftcache-config-'));
    try {
      const file = join(dir, 'node.json');
      await writeFile(file, JSON.stringify({ id: 2, raft: { tickMs: 50 }, logLevel: 'warn' }));
      const c = await loadStartConfig([...FLAGS, '--config', file]);
      expect(c.id).toBe(1); // the flag wins
      expect(c.raft.tickMs).toBe(50); // from the file
      expect(c.logLevel).toBe('warn');
      await writeFile(file, JSON.stringify({ raft: { tickMs: -1 } }));
      await expect(loadStartConfig([...FLAGS, '--config', file])).rejects.toThrow(/raft\.tickMs: /);
      await writeFile(file, '{oops');
      await expect(loadStartConfig([...FLAGS, '--config', file])).rejects.toThrow(/not valid JSON/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names a missing required flag', async () => {
    await expect(loadStartConfig(FLAGS.slice(2))).rejects.toThrow(/id: /);
  });
});

describe('the layout file of a data directory', () => {
  it('is written on first start and refuses a later start with other shards or replication', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'raftcache-layout-'));
    try {
      await checkLayoutFile(dir, { shards: 8, replication: 3 });
      await checkLayoutFile(dir, { shards: 8, replication: 3 }); // the same again: fine
      await expect(checkLayoutFile(dir, { shards: 4, replication: 3 })).rejects.toThrow(/shards: the data directory was created with shards=8, not 4/);
      await expect(checkLayoutFile(dir, { shards: 8, replication: 5 })).rejects.toThrow(/replication: .*replication=3, not 5/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('replication', () => {
  const members = (n: number): { id: number; host: string; clientPort: number; peerPort: number }[] =>
    Array.from({ length: n }, (_, i) => ({ id: i + 1, host: 'h', clientPort: 1, peerPort: 2 }));
  it('defaults to every member with one shard, to 3 with several, and is capped at the member count', () => {
    expect(effectiveReplication({ shards: 1, members: members(5) })).toBe(5);
    expect(effectiveReplication({ shards: 8, members: members(5) })).toBe(3);
    expect(effectiveReplication({ shards: 8, members: members(2) })).toBe(2);
    expect(effectiveReplication({ shards: 1, members: members(5), replication: 3 })).toBe(3);
    expect(effectiveReplication({ shards: 4, members: members(3), replication: 5 })).toBe(3);
  });
});
