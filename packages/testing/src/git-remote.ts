import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function git(cwd: string, ...args: string[]): string {
  return execFileSync(
    'git',
    ['-c', 'user.name=Switchyard', '-c', 'user.email=switchyard@example.com', ...args],
    {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
}

/**
 * A local bare repository standing in for a feature's git remote: `main` with a Maven project
 * (pom.xml) and `k8s/dev/` manifests, and a `feature/<key>` branch for each key. Returns its path
 * (`<dir>/remote.git`), which goes in the Jira issue's repository custom field.
 */
export function createGitRemote(dir: string, featureKeys: readonly string[] = ['PROJ-1']): string {
  const remote = join(dir, 'remote.git');
  const work = join(dir, 'seed-work');
  mkdirSync(work, { recursive: true });
  git(dir, 'init', '--quiet', '--bare', '-b', 'main', remote);
  git(work, 'init', '--quiet', '-b', 'main');
  writeFileSync(join(work, 'pom.xml'), '<project><artifactId>feature-app</artifactId></project>\n');
  mkdirSync(join(work, 'k8s', 'dev'), { recursive: true });
  writeFileSync(
    join(work, 'k8s', 'dev', 'deployment.yaml'),
    'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: feature-app}\n',
  );
  git(work, 'add', '.');
  git(work, 'commit', '--quiet', '-m', 'initial');
  git(work, 'remote', 'add', 'origin', remote);
  git(work, 'push', '--quiet', 'origin', 'main');
  for (const key of featureKeys) {
    git(work, 'checkout', '--quiet', '-b', `feature/${key}`, 'main');
    writeFileSync(join(work, `${key}.txt`), `${key}\n`);
    git(work, 'add', '.');
    git(work, 'commit', '--quiet', '-m', key);
    git(work, 'push', '--quiet', 'origin', `feature/${key}`);
  }
  rmSync(work, { recursive: true, force: true });
  return remote;
}
