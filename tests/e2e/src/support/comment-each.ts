// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${env:…} is config syntax here
// The workload of the crash suites: every DeploymentCompleted event makes the rule `comment-each`
// comment "deployed <event id>" on its issue in a FakeJira, so the fake's comments tell which events
// were handled and how often.
import type { FakeJira } from '@switchyard/testing';

/** switchyard.yaml for the workload on `store` (a YAML flow mapping), secrets from SY_TOKEN/JIRA_TOKEN. */
export function commentEachConfig(options: { store: string; jiraUrl: string; concurrency: number }): string {
  return [
    'server: { host: 127.0.0.1, port: 0, token: ${env:SY_TOKEN}, shutdownTimeout: 5s }',
    `store: ${options.store}`,
    'plugins:',
    `  jira: { options: { baseUrl: "${options.jiraUrl}", email: bot@example.com, token: \${env:JIRA_TOKEN}, timeoutMs: 5000 } }`,
    'rules:',
    '  - name: comment-each',
    '    on: DeploymentCompleted',
    `    concurrency: ${options.concurrency}`,
    '    do:',
    '      - action: jira.comment',
    '        with: { issue: "{{ .subject }}", body: "deployed {{ .id }}" }',
    'log: { level: warn }',
  ].join('\n');
}

/** The issue keys `<prefix>-1` … `<prefix>-<issues>` the events are spread over. */
export function issueKeys(prefix: string, issues: number): string[] {
  return Array.from({ length: issues }, (_, i) => `${prefix}-${i + 1}`);
}

/** A builder of the CloudEvent for each id, its subject one of `keys` (round robin by position). */
export function deploymentEvents(
  ids: readonly string[],
  keys: readonly string[],
  source: string,
): (id: string) => Record<string, unknown> {
  const subjectOf = new Map(ids.map((id, i) => [id, keys[i % keys.length]!]));
  return (id) => ({
    specversion: '1.0',
    id,
    source,
    type: 'DeploymentCompleted',
    subject: subjectOf.get(id),
    data: {
      service: 'api',
      environment: 'production',
      version: '1.0.0',
      outcome: 'succeeded',
      issueKeys: [subjectOf.get(id)],
    },
  });
}

/** How many times each event id was commented on the issues `keys`. */
export function commentCounts(jira: FakeJira, keys: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) {
    for (const c of jira.comments(key)) {
      const m = /deployed ([0-9a-f-]{36})/.exec(JSON.stringify(c.body));
      if (m) counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
    }
  }
  return counts;
}
