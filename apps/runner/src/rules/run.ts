// Runs compiled rules: one durable subscription per rule (`rule:<name>`). For each event: the
// condition, then every action in order with its params rendered from the event. Each action has
// an idempotency key per (event, rule, step), so a redelivery after a crash or a retry after a
// later step failed does not repeat the steps that already succeeded.
import {
  type Bus,
  ErrorCodes,
  isSwitchyardError,
  type Logger,
  PermanentError,
  type PluginHost,
} from '@switchyard/core';
import { type CompiledRule, ruleScope } from './compile.js';

export interface RuleOutcome {
  matched: boolean;
  actions: Array<{ action: string; result: unknown }>;
}

export async function startRules(options: {
  rules: readonly CompiledRule[];
  bus: Bus;
  host: PluginHost;
  logger: Logger;
}): Promise<Array<(o?: { deadlineMs?: number }) => Promise<void>>> {
  const stops: Array<(o?: { deadlineMs?: number }) => Promise<void>> = [];
  try {
    for (const rule of options.rules) {
      stops.push(
        await options.bus.subscribe({
          id: rule.subscription,
          types: rule.on,
          ...(rule.maxAttempts !== undefined ? { maxAttempts: rule.maxAttempts } : {}),
          ...(rule.timeoutMs !== undefined ? { timeoutMs: rule.timeoutMs } : {}),
          ...(rule.concurrency !== undefined ? { concurrency: rule.concurrency } : {}),
          handler: (event, context) => runRule(rule, event, context, options.host, options.logger),
        }),
      );
    }
  } catch (error) {
    await Promise.all(stops.map((stop) => stop()));
    throw error;
  }
  return stops;
}

async function runRule(
  rule: CompiledRule,
  event: Parameters<typeof ruleScope>[0],
  context: { attempt: number; signal: AbortSignal },
  host: PluginHost,
  logger: Logger,
): Promise<RuleOutcome> {
  const log = logger.child({
    eventId: event.id,
    correlationId: event.correlationid,
    type: event.type,
    rule: rule.name,
    attempt: context.attempt,
  });
  const scope = ruleScope(event);
  if (rule.condition) {
    let matched: boolean;
    try {
      matched = rule.condition.evaluate(scope);
    } catch (error) {
      throw asPermanent(error, `rule "${rule.name}": condition failed`);
    }
    if (!matched) {
      log.debug('rule condition is false; skipped');
      return { matched: false, actions: [] };
    }
  }
  const results: RuleOutcome['actions'] = [];
  for (const [index, step] of rule.actions.entries()) {
    let params: unknown;
    try {
      params = step.render(scope);
    } catch (error) {
      throw asPermanent(error, `rule "${rule.name}" do[${index}] ${step.action}: rendering with failed`);
    }
    const started = performance.now();
    const result = await host.invoke(step.action, params, {
      cause: event,
      idempotencyKey: `${event.id}:rule:${rule.name}:${index}`,
      signal: context.signal,
      attempt: context.attempt,
    });
    log.info(
      { action: step.action, step: index, ms: Math.round(performance.now() - started) },
      'rule action done',
    );
    results.push({ action: step.action, result: result ?? null });
  }
  return { matched: true, actions: results };
}

/** Template and condition failures come from the rule and the event: no retry can change them. */
function asPermanent(error: unknown, prefix: string): Error {
  if (isSwitchyardError(error) && !error.retryable) return error;
  return new PermanentError(
    isSwitchyardError(error) ? error.code : ErrorCodes.CONDITION_EVAL,
    `${prefix}: ${(error as Error)?.message ?? String(error)}`,
    { cause: error },
  );
}
