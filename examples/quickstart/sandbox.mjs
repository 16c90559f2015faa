// Shared values of the quickstart sandbox. These are stand-in credentials for local fakes only.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
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

function git(cwd, ...args) {
  execFileSync('git', ['-c', 'user.name=Sandbox', '-c', 'user.email=sandbox@example.com', ...args], {
    cwd,
    stdio: 'pipe',
  });
}

/** Creates the stand-in remote once: main with pom.xml and k8s/dev/, and feature/PROJ-123. */
export function ensureRemote() {
  if (existsSync(remote)) return;
  const work = join(sandboxDir, 'seed-work');
  mkdirSync(work, { recursive: true });
  git(sandboxDir, 'init', '--quiet', '--bare', '-b', 'main', remote);
  git(work, 'init', '--quiet', '-b', 'main');
  writeFileSync(join(work, 'pom.xml'), '<project><artifactId>checkout</artifactId></project>\n');
  mkdirSync(join(work, 'k8s', 'dev'), { recursive: true });
  writeFileSync(
    join(work, 'k8s', 'dev', 'deployment.yaml'),
    'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: checkout}\n',
  );
  git(work, 'add', '.');
  git(work, 'commit', '--quiet', '-m', 'initial');
  git(work, 'remote', 'add', 'origin', remote);
  git(work, 'push', '--quiet', 'origin', 'main');
  git(work, 'checkout', '--quiet', '-b', `feature/${issue.key}`, 'main');
  writeFileSync(join(work, 'CHANGE.txt'), `${issue.key}: ${issue.summary}\n`);
  git(work, 'add', '.');
  git(work, 'commit', '--quiet', '-m', issue.key);
  git(work, 'push', '--quiet', 'origin', `feature/${issue.key}`);
  rmSync(work, { recursive: true, force: true });
}
