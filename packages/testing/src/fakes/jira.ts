import { createHmac, randomUUID } from 'node:crypto';
import { request } from 'undici';
import { FakeHttpServer, type FakeReply, type FakeRequest, type Fault } from './server.js';

// A loopback Jira that answers the REST endpoints Switchyard's Jira plugin uses, with Jira's status
// codes and `{errorMessages, errors}` bodies, and sends webhooks in the shape Jira sends them. It is
// self-contained (node + undici) so the quickstart can run it as a standalone process.

export type FakeJiraStatusCategory = 'new' | 'indeterminate' | 'done';

export interface FakeJiraStatus {
  id: string;
  name: string;
  category?: FakeJiraStatusCategory;
}

export interface FakeJiraTransition {
  id: string;
  /** Transition name as Jira shows it on the button ("Start development"), not the status name. */
  name: string;
  /** Target status name. */
  to: string;
  /** Status names it is available from; omitted = a global transition (from every status). */
  from?: string[];
}

export interface FakeJiraWorkflow {
  statuses: FakeJiraStatus[];
  transitions: FakeJiraTransition[];
}

/**
 * To Do → Ready for Development → In Development → In Review → Done, with transition names that
 * differ from the status names, as in real workflows.
 */
export const DEFAULT_JIRA_WORKFLOW: FakeJiraWorkflow = {
  statuses: [
    { id: '10000', name: 'To Do', category: 'new' },
    { id: '10001', name: 'Ready for Development', category: 'new' },
    { id: '3', name: 'In Development', category: 'indeterminate' },
    { id: '10002', name: 'In Review', category: 'indeterminate' },
    { id: '10003', name: 'Done', category: 'done' },
  ],
  transitions: [
    { id: '11', name: 'Mark ready', from: ['To Do'], to: 'Ready for Development' },
    { id: '21', name: 'Start development', from: ['Ready for Development'], to: 'In Development' },
    { id: '31', name: 'Submit for review', from: ['In Development'], to: 'In Review' },
    { id: '41', name: 'Request changes', from: ['In Review'], to: 'In Development' },
    { id: '51', name: 'Approve', from: ['In Review'], to: 'Done' },
    { id: '61', name: 'Reopen', from: ['Done'], to: 'To Do' },
    { id: '71', name: 'Back to backlog', from: ['Ready for Development', 'In Development'], to: 'To Do' },
  ],
};

export interface FakeJiraUser {
  accountId: string;
  displayName: string;
  emailAddress?: string;
}

export interface FakeJiraComment {
  id: string;
  /** ADF document (v3) or wiki-markup string (v2), exactly as received. */
  body: unknown;
  apiVersion: 2 | 3;
  author: FakeJiraUser;
  created: string;
}

export interface FakeJiraHistoryEntry {
  at: string;
  from: string;
  to: string;
  transitionId: string;
  by: 'api' | 'webhook';
}

export interface FakeJiraIssue {
  id: string;
  key: string;
  projectKey: string;
  /** Current status name. */
  status: string;
  /** Every other field (summary, issuetype, labels, custom fields…), in Jira's REST shape. */
  fields: Record<string, unknown>;
  workflow: FakeJiraWorkflow;
  comments: FakeJiraComment[];
  history: FakeJiraHistoryEntry[];
}

export interface AddJiraIssueInput {
  key: string;
  id?: string;
  /** Status name; defaults to the workflow's first status. */
  status?: string;
  summary?: string;
  issueType?: string;
  /** Defaults to the part of the key before the dash. */
  project?: string;
  labels?: string[];
  /** Extra fields, custom ones included (customfield_10001…). */
  fields?: Record<string, unknown>;
  workflow?: FakeJiraWorkflow;
}

/**
 * Credentials the fake accepts. With `email`, Jira Cloud: Basic `email:token` only. Without,
 * Server/Data Center: `Bearer <personal access token>` only. `false` turns auth off.
 */
export type FakeJiraAuth = { email?: string; token: string } | false;

export interface FakeJiraOptions {
  auth?: FakeJiraAuth;
  /** The user behind the credentials (comment author, webhook user). */
  user?: FakeJiraUser;
  /** Base URL used in `self` links; defaults to the server's own URL. */
  publicUrl?: string;
}

export interface JiraWebhookInput {
  issueKey: string;
  /** Target status name (a status change). Omit and pass `items` for other updates. */
  to?: string;
  /** Source status name; defaults to the issue's current status. */
  from?: string;
  webhookEvent?: string;
  /** Changelog items to send instead of the status item (e.g. a summary edit). */
  items?: Array<Record<string, unknown>>;
  user?: Partial<FakeJiraUser>;
  /** Fields merged over the issue's fields in the payload. */
  fields?: Record<string, unknown>;
  timestamp?: number;
}

export interface JiraWebhookSendOptions {
  /** Signs the raw body: `X-Hub-Signature: sha256=<hex HMAC-SHA256>`. */
  secret?: string;
  /** `X-Atlassian-Webhook-Identifier`; a random one when omitted. Reuse it to simulate Jira's retries. */
  identifier?: string;
  /** Sends exactly this signature header value instead of computing one. */
  signature?: string;
  /** Extra headers. */
  headers?: Record<string, string>;
}

export interface JiraWebhookResult {
  status: number;
  body: unknown;
  identifier: string;
  payload: Record<string, unknown>;
}

const NOT_AUTHENTICATED = {
  errorMessages: ['You are not authenticated. Authentication required to perform this operation.'],
  errors: {},
};
const ISSUE_NOT_FOUND = {
  errorMessages: ['Issue does not exist or you do not have permission to see it.'],
  errors: {},
};
const NOT_ADF = 'Operation value must be an Atlassian Document (see the Atlassian Document Format)';

export class FakeJira {
  readonly server: FakeHttpServer;
  readonly #issues = new Map<string, FakeJiraIssue>();
  readonly #auth: FakeJiraAuth;
  readonly #user: FakeJiraUser;
  readonly #publicUrl: string | undefined;
  #nextIssueId = 10_000;
  #nextCommentId = 10_000;
  #nextChangelogId = 10_100;

  constructor(options: FakeJiraOptions = {}) {
    this.#auth = options.auth ?? { email: 'switchyard@example.com', token: 'fake-jira-api-token' };
    this.#user = options.user ?? {
      accountId: '5b10ac8d82e05b22cc7d4ef5',
      displayName: 'Switchyard Bot',
      emailAddress: 'switchyard@example.com',
    };
    this.#publicUrl = options.publicUrl;
    this.server = new FakeHttpServer((req) => this.#handle(req));
  }

  async start(port = 0, host = '127.0.0.1'): Promise<this> {
    await this.server.start(port, host);
    return this;
  }

  stop(): Promise<void> {
    return this.server.stop();
  }

  get url(): string {
    return this.server.url;
  }

  /** Every request received, oldest first. */
  get requests(): FakeRequest[] {
    return this.server.requests;
  }

  /** Faults for the next matching requests: `{kind:'status', status:429, headers:{'retry-after':'5'}}`… */
  inject(fault: Fault, times = 1, match?: (req: FakeRequest) => boolean): void {
    this.server.inject(fault, times, match);
  }

  addIssue(input: AddJiraIssueInput): FakeJiraIssue {
    const workflow = input.workflow ?? DEFAULT_JIRA_WORKFLOW;
    const status = input.status ?? workflow.statuses[0]?.name;
    if (!status || !workflow.statuses.some((s) => s.name === status)) {
      throw new Error(`status "${input.status}" is not in the workflow of ${input.key}`);
    }
    const projectKey = input.project ?? input.key.split('-')[0] ?? input.key;
    const issue: FakeJiraIssue = {
      id: input.id ?? String(this.#nextIssueId++),
      key: input.key,
      projectKey,
      status,
      fields: {
        summary: input.summary ?? `Issue ${input.key}`,
        issuetype: { id: '10001', name: input.issueType ?? 'Story', subtask: false },
        project: { id: '10000', key: projectKey, name: projectKey },
        labels: [...(input.labels ?? [])],
        ...input.fields,
      },
      workflow,
      comments: [],
      history: [],
    };
    this.#issues.set(issue.key, issue);
    return issue;
  }

  issue(key: string): FakeJiraIssue | undefined {
    return this.#issues.get(key);
  }

  comments(key: string): FakeJiraComment[] {
    return this.#issues.get(key)?.comments ?? [];
  }

  /** Requests that changed something (POST/PUT), for "no call was made" assertions. */
  writes(): FakeRequest[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }

  /**
   * POSTs a webhook in the shape Jira sends (`jira:issue_updated` with a status changelog item),
   * with the identifier and signature headers. When `to` is given and the issue exists here, it
   * moves there first, as if a person had transitioned it in Jira's UI.
   */
  async sendWebhook(
    url: string,
    input: JiraWebhookInput,
    options: JiraWebhookSendOptions = {},
  ): Promise<JiraWebhookResult> {
    const payload = this.webhookPayload(input);
    const raw = JSON.stringify(payload);
    const identifier = options.identifier ?? randomUUID();
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'Atlassian Webhook HTTP Client',
      'x-atlassian-webhook-identifier': identifier,
      'x-atlassian-webhook-flow': 'Primary',
      ...options.headers,
    };
    if (options.signature !== undefined) headers['x-hub-signature'] = options.signature;
    else if (options.secret !== undefined) headers['x-hub-signature'] = signJiraWebhook(raw, options.secret);
    const res = await request(url, { method: 'POST', headers, body: raw });
    const text = await res.body.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON; keep the text
    }
    return { status: res.statusCode, body, identifier, payload };
  }

  /** The webhook body `sendWebhook` would send (also moves the issue when `to` is given). */
  webhookPayload(input: JiraWebhookInput): Record<string, unknown> {
    const issue = this.#issues.get(input.issueKey);
    const from = input.from ?? issue?.status ?? 'To Do';
    const workflow = issue?.workflow ?? DEFAULT_JIRA_WORKFLOW;
    const statusId = (name: string) => workflow.statuses.find((s) => s.name === name)?.id ?? '1';
    if (issue && input.to !== undefined) {
      if (!workflow.statuses.some((s) => s.name === input.to)) {
        throw new Error(`status "${input.to}" is not in the workflow of ${issue.key}`);
      }
      issue.history.push({
        at: new Date().toISOString(),
        from,
        to: input.to,
        transitionId: '',
        by: 'webhook',
      });
      issue.status = input.to;
    }
    const items =
      input.items ??
      (input.to === undefined
        ? []
        : [
            {
              field: 'status',
              fieldtype: 'jira',
              fieldId: 'status',
              from: statusId(from),
              fromString: from,
              to: statusId(input.to),
              toString: input.to,
            },
          ]);
    const key = input.issueKey;
    const base = this.#base();
    const fields = issue
      ? this.#fieldsOf(issue)
      : {
          summary: `Issue ${key}`,
          issuetype: { id: '10001', name: 'Story' },
          project: { id: '10000', key: key.split('-')[0], name: key.split('-')[0] },
          labels: [],
          status: { id: statusId(input.to ?? from), name: input.to ?? from },
        };
    const user = { ...this.#user, ...input.user };
    return {
      timestamp: input.timestamp ?? Date.now(),
      webhookEvent: input.webhookEvent ?? 'jira:issue_updated',
      issue_event_type_name: 'issue_generic',
      user: {
        self: `${base}/rest/api/2/user?accountId=${user.accountId}`,
        accountId: user.accountId,
        displayName: user.displayName,
        ...(user.emailAddress ? { emailAddress: user.emailAddress } : {}),
        active: true,
        accountType: 'atlassian',
      },
      issue: {
        id: issue?.id ?? String(this.#nextIssueId++),
        self: `${base}/rest/api/2/issue/${issue?.id ?? key}`,
        key,
        fields: { ...fields, ...input.fields },
      },
      changelog: { id: String(this.#nextChangelogId++), items },
    };
  }

  #base(): string {
    return (this.#publicUrl ?? this.url).replace(/\/+$/, '');
  }

  #statusOf(issue: FakeJiraIssue, name = issue.status): Record<string, unknown> {
    const s = issue.workflow.statuses.find((x) => x.name === name) ?? { id: '1', name, category: 'new' };
    const cat = s.category ?? 'new';
    const categories = {
      new: { id: 2, key: 'new', colorName: 'blue-gray', name: 'To Do' },
      indeterminate: { id: 4, key: 'indeterminate', colorName: 'yellow', name: 'In Progress' },
      done: { id: 3, key: 'done', colorName: 'green', name: 'Done' },
    } as const;
    return {
      self: `${this.#base()}/rest/api/2/status/${s.id}`,
      id: s.id,
      name: s.name,
      statusCategory: categories[cat],
    };
  }

  #fieldsOf(issue: FakeJiraIssue): Record<string, unknown> {
    return { ...issue.fields, status: this.#statusOf(issue) };
  }

  #available(issue: FakeJiraIssue): FakeJiraTransition[] {
    return issue.workflow.transitions.filter((t) => !t.from || t.from.includes(issue.status));
  }

  #authorized(req: FakeRequest): boolean {
    const auth = this.#auth;
    if (auth === false) return true;
    const header = req.headers.authorization ?? '';
    if (auth.email !== undefined) {
      const expected = `Basic ${Buffer.from(`${auth.email}:${auth.token}`).toString('base64')}`;
      return header === expected;
    }
    return header === `Bearer ${auth.token}`;
  }

  async #handle(req: FakeRequest): Promise<FakeReply> {
    const m = /^\/rest\/api\/(2|3)\/issue\/([^/]+)(\/transitions|\/comment)?\/?$/.exec(req.path);
    if (!m) {
      return {
        status: 404,
        body: {
          errorMessages: [`No REST resource at ${req.method} ${req.path} in this fake Jira.`],
          errors: {},
        },
      };
    }
    if (!this.#authorized(req)) {
      return {
        status: 401,
        headers: { 'www-authenticate': 'OAuth realm="https%3A%2F%2Fexample.atlassian.net"' },
        body: NOT_AUTHENTICATED,
      };
    }
    const version = Number(m[1]) as 2 | 3;
    const issue = this.#issues.get(decodeURIComponent(m[2]!));
    if (!issue) return { status: 404, body: ISSUE_NOT_FOUND };
    const route = `${req.method} ${m[3] ?? ''}`;
    switch (route) {
      case 'GET ':
        return this.#getIssue(issue, req);
      case 'PUT ':
        return this.#editIssue(issue, req, version);
      case 'GET /transitions':
        return this.#getTransitions(issue, req);
      case 'POST /transitions':
        return this.#doTransition(issue, req, version);
      case 'POST /comment':
        return this.#addComment(issue, req, version);
      default:
        return {
          status: 405,
          body: { errorMessages: [`Method ${req.method} is not allowed here.`], errors: {} },
        };
    }
  }

  #getIssue(issue: FakeJiraIssue, req: FakeRequest): FakeReply {
    const all = this.#fieldsOf(issue);
    const wanted = req.query.get('fields');
    let fields = all;
    if (wanted && wanted !== '*all') {
      const names = wanted.split(',').map((f) => f.trim());
      fields = Object.fromEntries(Object.entries(all).filter(([k]) => names.includes(k)));
    }
    return {
      status: 200,
      body: {
        expand: 'renderedFields,names,schema',
        id: issue.id,
        self: this.#selfOf(issue),
        key: issue.key,
        fields,
      },
    };
  }

  #selfOf(issue: FakeJiraIssue): string {
    return `${this.#base()}/rest/api/2/issue/${issue.id}`;
  }

  #getTransitions(issue: FakeJiraIssue, req: FakeRequest): FakeReply {
    const only = req.query.get('transitionId');
    const transitions = this.#available(issue)
      .filter((t) => !only || t.id === only)
      .map((t) => ({
        id: t.id,
        name: t.name,
        to: this.#statusOf(issue, t.to),
        hasScreen: false,
        isGlobal: !t.from,
        isInitial: false,
        isAvailable: true,
        isConditional: false,
        isLooped: false,
      }));
    return { status: 200, body: { expand: 'transitions', transitions } };
  }

  #doTransition(issue: FakeJiraIssue, req: FakeRequest, version: 2 | 3): FakeReply {
    const body = req.json as Record<string, any> | undefined;
    if (!isObject(body)) return badRequest(['Can not parse the request body as JSON.']);
    const id = body.transition?.id;
    if (id === undefined || id === null || id === '') {
      return badRequest(["Missing 'transition' identifier"]);
    }
    const transition = this.#available(issue).find((t) => t.id === String(id));
    if (!transition) {
      return badRequest([`Transition id '${String(id)}' is not valid for this issue.`]);
    }
    const comments = body.update?.comment;
    const pending: unknown[] = [];
    if (comments !== undefined) {
      if (!Array.isArray(comments)) return badRequest([], { comment: 'Field does not support update' });
      for (const op of comments) {
        const commentBody = op?.add?.body;
        const problem = commentProblem(commentBody, version);
        if (problem) return badRequest([], { comment: problem });
        pending.push(commentBody);
      }
    }
    const fieldProblem = this.#fieldsProblem(body.fields, version);
    if (fieldProblem) return fieldProblem;
    issue.history.push({
      at: new Date().toISOString(),
      from: issue.status,
      to: transition.to,
      transitionId: transition.id,
      by: 'api',
    });
    issue.status = transition.to;
    if (isObject(body.fields)) Object.assign(issue.fields, body.fields);
    for (const c of pending) this.#storeComment(issue, c, version);
    return { status: 204 };
  }

  #addComment(issue: FakeJiraIssue, req: FakeRequest, version: 2 | 3): FakeReply {
    const body = req.json as Record<string, any> | undefined;
    if (!isObject(body)) return badRequest(['Can not parse the request body as JSON.']);
    const problem = commentProblem(body.body, version);
    if (problem) return badRequest([], { comment: problem });
    const comment = this.#storeComment(issue, body.body, version);
    return {
      status: 201,
      body: {
        self: `${this.#selfOf(issue)}/comment/${comment.id}`,
        id: comment.id,
        author: comment.author,
        body: comment.body,
        created: comment.created,
        updated: comment.created,
        jsdPublic: true,
      },
    };
  }

  #storeComment(issue: FakeJiraIssue, body: unknown, version: 2 | 3): FakeJiraComment {
    const comment: FakeJiraComment = {
      id: String(this.#nextCommentId++),
      body,
      apiVersion: version,
      author: { ...this.#user },
      created: new Date().toISOString(),
    };
    issue.comments.push(comment);
    return comment;
  }

  #editIssue(issue: FakeJiraIssue, req: FakeRequest, version: 2 | 3): FakeReply {
    const body = req.json as Record<string, any> | undefined;
    if (!isObject(body)) return badRequest(['Can not parse the request body as JSON.']);
    const fieldProblem = this.#fieldsProblem(body.fields, version);
    if (fieldProblem) return fieldProblem;
    const labelOps = body.update?.labels;
    const labels = new Set<string>(
      Array.isArray(issue.fields.labels) ? (issue.fields.labels as string[]) : [],
    );
    if (labelOps !== undefined) {
      if (!Array.isArray(labelOps)) return badRequest([], { labels: 'Field does not support update' });
      for (const op of labelOps) {
        const value = op?.add ?? op?.remove;
        if (typeof value !== 'string' || value === '') {
          return badRequest([], { labels: 'Label value must be a non-empty string.' });
        }
        if (/\s/.test(value)) {
          return badRequest([], { labels: `The label '${value}' contains spaces which is invalid.` });
        }
        if (op.add !== undefined) labels.add(value);
        else labels.delete(value);
      }
    }
    if (isObject(body.fields)) Object.assign(issue.fields, body.fields);
    if (labelOps !== undefined) issue.fields.labels = [...labels];
    return { status: 204 };
  }

  #fieldsProblem(fields: unknown, version: 2 | 3): FakeReply | undefined {
    if (fields === undefined) return undefined;
    if (!isObject(fields)) return badRequest(['Can not deserialize the fields of the request.']);
    for (const [name, value] of Object.entries(fields)) {
      if (['status', 'key', 'project', 'id'].includes(name)) {
        return badRequest([], {
          [name]: `Field '${name}' cannot be set. It is not on the appropriate screen, or unknown.`,
        });
      }
      if (name === 'description' || name === 'environment') {
        if (version === 3 && value !== null && adfProblem(value) !== undefined) {
          return badRequest([], { [name]: NOT_ADF });
        }
        if (version === 2 && value !== null && typeof value !== 'string') {
          return badRequest([], { [name]: 'Operation value must be a string' });
        }
      }
    }
    return undefined;
  }
}

/** `sha256=<hex HMAC-SHA256 of the raw body>`, the X-Hub-Signature Jira sends for a webhook with a secret. */
export function signJiraWebhook(rawBody: string | Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

function badRequest(errorMessages: string[], errors: Record<string, string> = {}): FakeReply {
  return { status: 400, body: { errorMessages, errors } };
}

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function commentProblem(body: unknown, version: 2 | 3): string | undefined {
  if (body === undefined || body === null || body === '') return 'Comment body can not be empty!';
  if (version === 2) return typeof body === 'string' ? undefined : 'Operation value must be a string';
  if (!isObject(body)) return NOT_ADF;
  const problem = adfProblem(body);
  return problem === undefined ? undefined : `Comment body is not valid! (${problem})`;
}

const INLINE = new Set(['text', 'hardBreak', 'mention', 'emoji', 'inlineCard', 'date', 'status']);
const BLOCK = new Set([
  'paragraph',
  'heading',
  'bulletList',
  'orderedList',
  'codeBlock',
  'blockquote',
  'rule',
  'panel',
  'table',
  'mediaSingle',
]);
const MARKS = new Set([
  'strong',
  'em',
  'code',
  'link',
  'strike',
  'underline',
  'subsup',
  'textColor',
  'backgroundColor',
]);

/**
 * Why a value is not an Atlassian Document Format document, or undefined when it is one. Checks the
 * rules Jira enforces: doc/version 1 root, block nodes at the top, inline nodes in paragraphs and
 * headings, non-empty text, known marks, links with an href, and `code` combined with `link` only.
 */
export function adfProblem(doc: unknown): string | undefined {
  if (!isObject(doc)) return 'the document is not an object';
  if (doc.type !== 'doc') return 'the root node must have type "doc"';
  if (doc.version !== 1) return 'the root node must have version 1';
  if (!Array.isArray(doc.content)) return 'the root node needs a content array';
  for (const [i, node] of doc.content.entries()) {
    const p = blockProblem(node, `content[${i}]`);
    if (p) return p;
  }
  return undefined;
}

function blockProblem(node: unknown, at: string): string | undefined {
  if (!isObject(node) || typeof node.type !== 'string') return `${at} is not a node`;
  if (!BLOCK.has(node.type) && node.type !== 'listItem') return `${at}: "${node.type}" is not a block node`;
  if (node.type === 'rule') return undefined;
  const content = node.content ?? [];
  if (!Array.isArray(content)) return `${at}.content must be an array`;
  const inlineParent = node.type === 'paragraph' || node.type === 'heading' || node.type === 'codeBlock';
  for (const [i, child] of content.entries()) {
    const where = `${at}.content[${i}]`;
    const p = inlineParent ? inlineProblem(child, where) : blockProblem(child, where);
    if (p) return p;
  }
  return undefined;
}

function inlineProblem(node: unknown, at: string): string | undefined {
  if (!isObject(node) || typeof node.type !== 'string') return `${at} is not a node`;
  if (!INLINE.has(node.type)) return `${at}: "${node.type}" is not an inline node`;
  if (node.type !== 'text') return undefined;
  if (typeof node.text !== 'string' || node.text.length === 0)
    return `${at}: a text node needs non-empty text`;
  if (node.marks === undefined) return undefined;
  if (!Array.isArray(node.marks)) return `${at}.marks must be an array`;
  const types = new Set<string>();
  for (const mark of node.marks) {
    if (!isObject(mark) || typeof mark.type !== 'string' || !MARKS.has(mark.type)) {
      return `${at}: unknown mark ${JSON.stringify(mark)}`;
    }
    if (mark.type === 'link' && (!isObject(mark.attrs) || typeof mark.attrs.href !== 'string')) {
      return `${at}: a link mark needs attrs.href`;
    }
    types.add(mark.type);
  }
  if (types.has('code') && [...types].some((t) => t !== 'code' && t !== 'link')) {
    return `${at}: the code mark can only be combined with link`;
  }
  return undefined;
}
