import { createEnvelope } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { renderEvent } from './render.js';

const at = Date.parse('2026-11-26T12:00:00Z');
const ev = (type: string, data: unknown) => createEnvelope({ type, data, subject: 'S-1' }, at);

describe('default messages', () => {
  it('IssueTransitioned: key, summary, statuses, person and link', () => {
    const m = renderEvent(
      ev('IssueTransitioned', {
        issueKey: 'PROJ-123',
        summary: 'Checkout button',
        fromStatus: 'To Do',
        toStatus: 'Ready for Development',
        transitionedBy: { displayName: 'Li Lei' },
        labels: ['web'],
        url: 'https://jira.example.com/browse/PROJ-123',
      }),
      'en',
    );
    expect(m.title).toBe('Issue transitioned PROJ-123');
    expect(m.markdown).toContain('- Status: To Do → **Ready for Development**');
    expect(m.markdown).toContain('- By: Li Lei');
    expect(m.markdown).toContain('(https://jira.example.com/browse/PROJ-123)');
    expect(m.plain).toContain('Status: To Do → Ready for Development');
    expect(m.url).toBe('https://jira.example.com/browse/PROJ-123');
  });

  it('MetricValidated: values, operator and verdict', () => {
    const m = renderEvent(
      ev('MetricValidated', {
        check: 'error-rate',
        query: 'sum(rate(errors[5m]))',
        operator: '<',
        expectedValue: 0.01,
        actualValue: 0.034567891,
        verdict: 'failed',
        passed: false,
        reason: 'error rate 0.0346 is not < 0.01',
        service: 'checkout',
        environment: 'production',
      }),
      'zh-CN',
    );
    expect(m.title).toBe('❌ 指标校验失败: error-rate');
    expect(m.markdown).toContain('- 实际值: **0.0345679**');
    expect(m.markdown).toContain('- 期望: < 0.01');
    expect(m.markdown).toContain('checkout / production');
    expect(m.url).toBeUndefined();
    const inf = renderEvent(
      ev('MetricValidated', {
        check: 'latency',
        operator: '<',
        expectedValue: 1,
        actualValue: Number.MAX_VALUE,
        actualRaw: '+Inf',
        verdict: 'failed',
        passed: false,
      }),
      'zh-CN',
    );
    expect(inf.markdown).toContain('- 实际值: **+Inf**');
  });

  it('PipelineCompleted and AlertFired from their type and data, fields optional', () => {
    const p = renderEvent(
      ev('PipelineCompleted', {
        pipeline: 'feature',
        outcome: 'failed',
        failedStep: 'test',
        durationMs: 3_725_000,
        logUrl: 'https://ci.example/log',
      }),
      'en',
    );
    expect(p.title).toBe('❌ Pipeline failed: feature');
    expect(p.markdown).toContain('- Failed step: test');
    expect(p.markdown).toContain('- Duration: 1h 2m');
    expect(p.markdown).toContain('[View log](https://ci.example/log)');
    const a = renderEvent(
      ev('AlertFired', {
        status: 'resolved',
        labels: { alertname: 'HighLatency', severity: 'page' },
        annotations: { summary: 'p99 over 1s' },
        endsAt: '2026-11-26T12:10:00Z',
        generatorURL: 'javascript:alert(1)',
      }),
      'zh-CN',
    );
    expect(a.title).toBe('✅ 告警恢复: HighLatency');
    expect(a.markdown).toContain('p99 over 1s');
    expect(a.markdown).toContain('- 级别: page');
    expect(a.markdown).not.toContain('javascript:');
    // Missing data never throws.
    expect(renderEvent(ev('PipelineCompleted', null), 'en').title).toBe('✅ Pipeline succeeded: ?');
    expect(renderEvent(ev('AlertFired', 'x'), 'en').title).toBe('🔥 Alert firing: ?');
  });

  it('any other event: its type, subject and a few fields', () => {
    const m = renderEvent(ev('ApprovalGiven', { approver: 'han', approved: true, nested: { a: 1 } }), 'en');
    expect(m.title).toBe('Event: ApprovalGiven');
    expect(m.plain).toContain('Subject: S-1');
    expect(m.plain).toContain('approver: han');
    expect(m.plain).toContain('nested: {"a":1}');
  });
});
