import { createEnvelope, type SwitchyardEvent } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { escapeMrkdwn, isFailure, linkerFrom, renderEvent } from './blocks.js';

const event = (type: string, data: unknown, subject?: string): SwitchyardEvent =>
  createEnvelope(
    { type, data, source: 'test', ...(subject ? { subject } : {}) },
    Date.parse('2026-11-26T12:00:00Z'),
  );

const linker = linkerFrom('https://jira.example.com/browse/PROJ-1');

describe('default layouts', () => {
  it('PipelineCompleted: outcome, failed step, duration and a link to the issue', () => {
    const e = event('PipelineCompleted', {
      pipeline: 'feature-driven-deployment',
      outcome: 'failed',
      failedStep: 'deploy-dev',
      durationMs: 125_000,
      issueKey: 'PROJ-7',
    });
    const r = renderEvent(e, linker);
    expect(r.text).toBe('Pipeline feature-driven-deployment failed for PROJ-7');
    const json = JSON.stringify(r.blocks);
    expect(json).toContain('<https://jira.example.com/browse/PROJ-7|PROJ-7>');
    expect(json).toContain('*Failed step*\\ndeploy-dev');
    expect(json).toContain('*Duration*\\n2m 5s');
    expect(isFailure(e)).toBe(true);
  });

  it('AlertFired: name, status, summary, severity; firing is a failure, resolved is not', () => {
    const firing = event('AlertFired', {
      status: 'firing',
      labels: { alertname: 'HighErrorRate', severity: 'critical', service: 'checkout' },
      annotations: { summary: '5xx above 1%' },
    });
    expect(renderEvent(firing).text).toBe('Firing: HighErrorRate (5xx above 1%)');
    expect(JSON.stringify(renderEvent(firing).blocks)).toContain('*Severity*\\ncritical');
    expect(isFailure(firing)).toBe(true);
    expect(isFailure(event('AlertFired', { status: 'resolved', labels: {} }))).toBe(false);
  });

  it('renders unknown types and odd data without throwing, escaping mrkdwn', () => {
    const r = renderEvent(event('BuildQueued', { queue: '<main>', n: 3, nested: { x: 1 } }, 'PROJ-1'));
    expect(r.text).toBe('BuildQueued PROJ-1');
    expect(JSON.stringify(r.blocks)).toContain('&lt;main&gt;');
    expect(() => renderEvent(event('MetricValidated', null))).not.toThrow();
    expect(() => renderEvent(event('PipelineCompleted', 'text'))).not.toThrow();
    expect(renderEvent(event('DeploymentCompleted', { outcome: 'failed' })).text).toBe(
      'Deployment of service to ? failed',
    );
    expect(escapeMrkdwn('a & <b>')).toBe('a &amp; &lt;b&gt;');
  });

  it('MetricValidated inconclusive with no data reads as such', () => {
    const r = renderEvent(
      event('MetricValidated', {
        check: 'latency',
        query: 'q',
        operator: '<=',
        expectedValue: 0.5,
        actualValue: null,
        verdict: 'inconclusive',
        passed: false,
        samples: [],
        reason: 'no samples returned',
      }),
    );
    expect(JSON.stringify(r.blocks)).toContain(':grey_question: *latency*: *inconclusive*');
    expect(JSON.stringify(r.blocks)).toContain('*Actual*\\nno data');
  });

  it('MetricValidated with +Inf shows +Inf, not Number.MAX_VALUE', () => {
    const r = renderEvent(
      event('MetricValidated', {
        check: 'latency',
        query: 'q',
        operator: '<',
        expectedValue: 1,
        actualValue: Number.MAX_VALUE,
        actualRaw: '+Inf',
        verdict: 'failed',
        passed: false,
        samples: [],
        reason: 'latency +Inf > 1 (must be < 1)',
      }),
    );
    expect(JSON.stringify(r.blocks)).toContain('*Actual*\\n+Inf');
    expect(JSON.stringify(r.blocks)).not.toContain('e+308');
  });
});
