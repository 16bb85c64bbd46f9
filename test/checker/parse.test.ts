import { describe, expect, it } from 'vitest';
import { checkHistory, formatHistoryJsonl, generateHistory, HistoryError, parseHistoryJsonl } from '../../jepsen-lite/checker/index.js';

describe('parseHistoryJsonl', () => {
  it('round-trips a generated history', () => {
    const events = generateHistory({ seed: 3, operations: 100, clients: 4, keys: 2, infoRatio: 0.05 });
    const text = formatHistoryJsonl(events);
    expect(parseHistoryJsonl(text)).toEqual(events);
    expect(checkHistory(parseHistoryJsonl(text)).verdict).toBe('linearizable');
  });

  it('skips blank lines and reads a missing value as null', () => {
    const text = '\n{"process":0,"type":"invoke","f":"get","key":"x","time":1}\n\n{"process":0,"type":"ok","f":"get","key":"x","value":null,"time":2}\n';
    const events = parseHistoryJsonl(text);
    expect(events).toHaveLength(2);
    expect(events[0]?.value).toBeNull();
  });

  it('names the line of invalid JSON', () => {
    const text = '{"process":0,"type":"invoke","f":"get","key":"x","value":null,"time":1}\n{oops';
    expect(() => parseHistoryJsonl(text)).toThrow(HistoryError);
    expect(() => parseHistoryJsonl(text)).toThrow(/^line 2: invalid JSON/);
  });

  it.each([
    ['[1,2]', /line 1: not a JSON object/],
    ['{"process":"a","type":"invoke","f":"get","key":"x","time":1}', /line 1: "process" must be an integer/],
    ['{"process":0,"type":"start","f":"get","key":"x","time":1}', /line 1: "type"/],
    ['{"process":0,"type":"invoke","f":"incr","key":"x","time":1}', /line 1: "f"/],
    ['{"process":0,"type":"invoke","f":"get","key":5,"time":1}', /line 1: "key"/],
    ['{"process":0,"type":"invoke","f":"get","key":"x"}', /line 1: "time"/],
    ['{"process":0,"type":"invoke","f":"put","key":"x","value":3,"time":1}', /line 1: a put "value"/],
    ['{"process":0,"type":"invoke","f":"cas","key":"x","value":["a"],"time":1}', /line 1: a cas "value"/],
  ])('rejects %s', (line, message) => {
    expect(() => parseHistoryJsonl(line)).toThrow(message);
  });
});
