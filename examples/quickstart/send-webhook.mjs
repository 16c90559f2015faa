// Sends the sample Jira webhook to the quickstart daemon: PROJ-123 moved from "To Do" to
// "Ready for Development", signed with the sandbox webhook secret as Jira would sign it.
import { env, issue, testing } from './sandbox.mjs';

const { FakeJira } = await import(testing);
// A throwaway fake builds the payload exactly as Jira shapes it (its links need a running server).
const jira = await new FakeJira().start();
jira.addIssue({
  key: issue.key,
  status: 'To Do',
  summary: issue.summary,
  fields: issue.fields,
});
const result = await jira.sendWebhook(
  'http://127.0.0.1:8080/webhooks/jira',
  { issueKey: issue.key, to: 'Ready for Development' },
  { secret: env.JIRA_WEBHOOK_SECRET },
);
await jira.stop();
console.log(`daemon answered ${result.status}: ${JSON.stringify(result.body)}`);
