import { createTestHost } from '@switchyard/testing';
import { describe, expect, it } from 'vitest';
import jira from './index.js';
import { authorizationHeader, JiraOptionsSchema } from './options.js';

describe('options', () => {
  it('defaults apiVersion to 3, trims the base URL, and picks Basic or Bearer auth', () => {
    const cloud = JiraOptionsSchema.parse({
      baseUrl: 'https://acme.atlassian.net/',
      email: 'a@b.c',
      token: 't0ken',
    });
    expect(cloud).toMatchObject({ baseUrl: 'https://acme.atlassian.net', apiVersion: 3 });
    expect(authorizationHeader(cloud)).toBe(`Basic ${Buffer.from('a@b.c:t0ken').toString('base64')}`);
    const dc = JiraOptionsSchema.parse({ baseUrl: 'https://jira.corp', token: 'pat', apiVersion: '2' });
    expect(dc.apiVersion).toBe(2);
    expect(authorizationHeader(dc)).toBe('Bearer pat');
  });

  it('reports every bad option at its config path before the plugin starts', async () => {
    const error = await createTestHost({
      plugins: [
        {
          plugin: jira,
          options: { baseUrl: 'acme.atlassian.net', apiVersion: 4, webhookSecret: '', tokn: 'x' },
        },
      ],
    }).then(
      () => undefined,
      (e: Error & { problems?: Array<{ path: string; message: string }> }) => e,
    );
    const problems = Object.fromEntries((error?.problems ?? []).map((p) => [p.path, p.message]));
    expect(problems['plugins.jira.options.baseUrl']).toMatch(/https:\/\/your-site\.atlassian\.net/);
    expect(problems['plugins.jira.options.apiVersion']).toMatch(/must be 2 or 3/);
    expect(problems['plugins.jira.options.token']).toMatch(/is required/);
    expect(problems['plugins.jira.options.webhookSecret']).toMatch(/is empty/);
    expect(Object.values(problems).join(' ')).toMatch(/tokn/);
  });
});
