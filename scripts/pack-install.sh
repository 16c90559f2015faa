#!/usr/bin/env bash
# Publishes nothing, but proves that what we would publish works as users install it:
# packs core, testing, the SQLite store, each plugin and the runner with `pnpm pack`, installs the
# runner, two plugins and the third-party example plugin from those tarballs into an empty folder
# outside the repo with plain npm, and checks that `switchyard check` and `switchyard run` load
# them, and that a plugin built for another core range is refused with both versions named.
# Run after `pnpm build`.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-pack.XXXXXX")
TARBALLS="$WORK/tarballs"
APP="$WORK/app"
mkdir -p "$TARBALLS" "$APP"
cleanup() {
  [ -n "${DAEMON_PID:-}" ] && kill "$DAEMON_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "packing into $TARBALLS"
for dir in packages/core packages/testing packages/store-sqlite packages/transport-nats \
  plugins/jira plugins/dingtalk plugins/prometheus plugins/slack plugins/pipeline apps/runner \
  examples/third-party-plugin; do
  (cd "$ROOT/$dir" && pnpm pack --pack-destination "$TARBALLS" >/dev/null)
done
ls "$TARBALLS"

tgz() { ls "$TARBALLS"/$1-[0-9]*.tgz | head -1; }
CORE=$(tgz switchyard-core)
SQLITE=$(tgz switchyard-store-sqlite)
RUNNER=$(tgz switchyard-runner)
JIRA=$(tgz switchyard-plugin-jira)
SLACK=$(tgz switchyard-plugin-slack)
UPTIME=$(tgz switchyard-plugin-uptime)

cd "$APP"
cat > package.json <<JSON
{
  "name": "switchyard-install-check",
  "private": true,
  "type": "module",
  "dependencies": {
    "@switchyard/runner": "file:$RUNNER",
    "@switchyard/plugin-jira": "file:$JIRA",
    "@switchyard/plugin-slack": "file:$SLACK",
    "switchyard-plugin-uptime": "file:$UPTIME"
  },
  "overrides": {
    "@switchyard/core": "file:$CORE",
    "@switchyard/store-sqlite": "file:$SQLITE"
  }
}
JSON
echo "npm install (plain npm, from tarballs)"
npm install --no-audit --no-fund --loglevel=error
test "$(find node_modules -path '*/@switchyard/core/package.json' | wc -l)" = 1 || {
  echo "more than one copy of @switchyard/core was installed" >&2
  find node_modules -path '*/@switchyard/core/package.json' >&2
  exit 1
}

PORT=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
cat > switchyard.yaml <<YAML
server: { host: 127.0.0.1, port: $PORT, token: \${env:SWITCHYARD_TOKEN} }
store: { kind: sqlite, path: ./data/switchyard.db }
plugins:
  jira:
    options: { baseUrl: "http://127.0.0.1:9", email: "bot@example.com", token: "jira-token-123", webhookSecret: "hook-secret-123" }
  slack:
    options: { webhookUrl: "http://127.0.0.1:9/services/T0/B0/x" }
  uptime:
    package: switchyard-plugin-uptime
    options: { apiUrl: "http://127.0.0.1:9", apiKey: "key-12345678" }
rules:
  - name: comment-on-deploy
    on: DeploymentCompleted
    do:
      - action: jira.comment
        with: { issue: "{{ .data.issueKeys }}" }
  - name: monitor-down
    on: MonitorStatusChanged
    if: data.status == "down"
    do:
      - action: slack.post
        with: { text: "{{ .data.monitor }} is down" }
YAML
export SWITCHYARD_TOKEN=install-check-token

echo "switchyard check"
npx switchyard check --config switchyard.yaml

echo "switchyard run"
./node_modules/.bin/switchyard run --config switchyard.yaml > run.log 2>&1 &
DAEMON_PID=$!
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$DAEMON_PID" 2>/dev/null; then cat run.log >&2; echo "daemon exited" >&2; exit 1; fi
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/readyz"
echo
npx switchyard plugins --config switchyard.yaml
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
DAEMON_PID=

echo "a plugin built for another core range is refused"
cat > old-plugin.mjs <<'JS'
import { definePlugin } from '@switchyard/core';
import { z } from 'zod';
export default definePlugin({ id: 'legacy', version: '0.9.0', core: '^9.0.0', config: z.object({}), setup: () => ({}) });
JS
cat > legacy.yaml <<YAML
store: { kind: memory }
plugins:
  legacy: { package: ./old-plugin.mjs }
YAML
if npx switchyard check --config legacy.yaml > legacy.out 2>&1; then
  cat legacy.out; echo "an incompatible plugin was accepted" >&2; exit 1
fi
cat legacy.out
grep -q '\^9.0.0' legacy.out && grep -q '0.1.0' legacy.out || { echo "the refusal does not name both versions" >&2; exit 1; }
echo "pack-install: OK"
