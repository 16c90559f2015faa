// Shared values of the quickstart sandbox. These are stand-in credentials for local fakes only.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = fileURLToPath(new URL('.', import.meta.url));
export const repo = fileURLToPath(new URL('../..', import.meta.url));
export const testing = new URL('../../packages/testing/dist/index.js', import.meta.url).href;
export const sandboxDir = join(here, '.sandbox');
/** The stand-in git remote of the feature (a local bare repository). */
export const remote = join(sandboxDir, 'remote.git');
/** Stand-in mvn and kubectl: they record their arguments and succeed (no Maven, no cluster here). */
export const standinBin = join(repo, 'plugins/pipeline/src/__fixtures__/bin');
export const env = {
  SWITCHYARD_TOKEN: 'quickstart-token-0123456789',
  JIRA_TOKEN: 'fake-jira-api-token',
  JIRA_WEBHOOK_SECRET: 'quickstart-webhook-secret',
  DINGTALK_ACCESS_TOKEN: 'quickstart-dingtalk-token',
  DINGTALK_SECRET: 'SECquickstart-dingtalk-secret',
};
export const issue = {
  key: 'PROJ-123',
  summary: 'Checkout page shows totals in the wrong currency',
  fields: { summary: 'Checkout page shows totals in the wrong currency', customfield_10001: remote },
};

/** Creates the stand-in remote once: main with pom.xml and k8s/dev/, and feature/PROJ-123. */
export async function ensureRemote() {
  if (existsSync(remote)) return;
  mkdirSync(sandboxDir, { recursive: true });
  const { createGitRemote } = await import(testing);
  createGitRemote(sandboxDir, [issue.key]);
}
