import { describe, expect, it } from 'vitest';
import { decodeToken, encodeToken, Names } from './names.js';

describe('subject tokens', () => {
  it('round-trips any string through one dot-free token', () => {
    for (const s of [
      'ConformancePing',
      'com.example.Deployed',
      'a b*>c',
      'e1:sub:jira.comment#0',
      'ü€😀',
      '',
      '=41',
    ]) {
      const token = encodeToken(s);
      expect(token).toMatch(/^[A-Za-z0-9_=-]+$/);
      expect(decodeToken(token)).toBe(s);
    }
  });

  it('derives every name from the stream', () => {
    const d = new Names();
    expect(d.stream).toBe('SWITCHYARD_EVENTS');
    const event = { type: 'IssueTransitioned', correlationid: 'root-1', id: 'ev.2' };
    expect(d.eventSubject(event)).toBe('switchyard.events.IssueTransitioned.root-1.ev=2E2');
    expect(d.typeOfSubject(d.eventSubject({ ...event, type: 'a.b' }))).toBe('a.b');
    expect(d.typeFilter('a.b')).toBe('switchyard.events.a=2Eb.>');
    expect(d.idFilter('ev.2')).toBe('switchyard.events.*.*.ev=2E2');
    expect(d.chainFilter('root-1')).toBe('switchyard.events.*.root-1.*');
    const n = new Names('TEAM_A');
    expect(n.eventsWildcard).toBe('TEAM_A.events.>');
    expect([n.dlqStream, n.deliveriesBucket, n.idempotencyBucket, n.kvBucket]).toEqual([
      'TEAM_A_DLQ',
      'TEAM_A_DELIVERIES',
      'TEAM_A_IDEMPOTENCY',
      'TEAM_A_KV',
    ]);
    expect(n.dlqSubject('rule:x')).toBe('TEAM_A.dlq.rule=3Ax.*');
  });

  it('rejects stream names and prefixes JetStream cannot take, naming the setting', () => {
    expect(() => new Names('bad.name')).toThrow(/store.stream "bad.name"/);
    expect(() => new Names('OK', 'bad prefix')).toThrow(/subject prefix/);
  });
});
