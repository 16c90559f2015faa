// Shared values of the quickstart sandbox. These are stand-in credentials for local fakes only.
import { fileURLToPath } from 'node:url';

export const here = fileURLToPath(new URL('.', import.meta.url));
export const repo = fileURLToPath(new URL('../..', import.meta.url));
export const testing = new URL('../../packages/testing/dist/index.js', import.meta.url).href;
export const env = {
  SWITCHYARD_TOKEN: 'quickstart-token',
  JIRA_TOKEN: 'fake-jira-api-token',
  JIRA_WEBHOOK_SECRET: 'quickstart-webhook-secret',
  DINGTALK_ACCESS_TOKEN: 'quickstart-dingtalk-token',
  DINGTALK_SECRET: 'SECquickstart-dingtalk-secret',
};
export const issue = {
  key: 'PROJ-123',
  summary: 'Checkout page shows totals in the wrong currency',
};
