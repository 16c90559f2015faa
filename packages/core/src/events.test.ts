import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  builtinEvents,
  createEnvelope,
  DeploymentCompleted,
  type DeploymentCompletedData,
  defineEvent,
  type EventMap,
  type EventOf,
  EventRegistry,
  EventValidationError,
  isUuidV7,
  type SwitchyardEvent,
  uuidv7,
} from './index.js';

const BuildQueued = defineEvent('BuildQueued', z.object({ queue: z.string(), position: z.number().int() }));
declare module './index.js' {
  interface EventMap {
    BuildQueued: z.infer<typeof BuildQueued.schema>;
  }
}

function registry(): EventRegistry {
  const r = new EventRegistry();
  for (const def of builtinEvents) r.register(def);
  r.register(BuildQueued, 'plugin test');
  return r;
}

const deployment: DeploymentCompletedData = {
  service: 'payments',
  environment: 'production',
  version: '1.4.2',
  outcome: 'succeeded',
  issueKeys: ['PROJ-123'],
};

describe('envelope', () => {
  it('is a frozen CloudEvents 1.0 envelope with a UUIDv7 id', () => {
    const event = registry().create({
      type: 'DeploymentCompleted',
      data: deployment,
      source: 'switchyard/test',
      subject: 'payments',
    });
    expect(event).toMatchObject({
      specversion: '1.0',
      type: 'DeploymentCompleted',
      source: 'switchyard/test',
      subject: 'payments',
      datacontenttype: 'application/json',
      data: deployment,
    });
    expect(isUuidV7(event.id)).toBe(true);
    expect(event.correlationid).toBe(event.id);
    expect(event.causationid).toBeUndefined();
    expect(Object.isFrozen(event)).toBe(true);
    expect(Object.isFrozen(event.data)).toBe(true);
    expect(Object.isFrozen((event.data as DeploymentCompletedData).issueKeys)).toBe(true);
    expect(() => {
      (event as { id: string }).id = 'x';
    }).toThrow(TypeError);
  });

  it('takes correlation from the cause and the cause id as causation', () => {
    const root = createEnvelope({ type: 'A', data: {} });
    const child = createEnvelope({ type: 'B', data: {}, cause: root });
    const grandchild = createEnvelope({ type: 'C', data: {}, cause: child });
    expect(child.correlationid).toBe(root.id);
    expect(child.causationid).toBe(root.id);
    expect(grandchild.correlationid).toBe(root.id);
    expect(grandchild.causationid).toBe(child.id);
  });

  it('generates time-ordered UUIDv7 ids, unique within one millisecond', () => {
    const now = Date.now();
    const ids = Array.from({ length: 5000 }, () => uuidv7(now));
    expect(new Set(ids).size).toBe(5000);
    expect([...ids].sort()).toEqual(ids);
    expect(ids.every(isUuidV7)).toBe(true);
    expect(uuidv7(now + 1) > ids.at(-1)!).toBe(true);
  });
});

describe('event registry', () => {
  it('rejects invalid data naming every bad field', () => {
    const r = registry();
    try {
      r.create({ type: 'DeploymentCompleted', data: { servce: 'x', outcome: 'maybe', issueKeys: 'PROJ-1' } });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(EventValidationError);
      const e = error as EventValidationError;
      expect(e.code).toBe('SY_EVENT_INVALID');
      expect(e.retryable).toBe(false);
      const paths = e.issues.map((i) => i.path);
      expect(paths).toEqual(
        expect.arrayContaining([
          'data.service',
          'data.environment',
          'data.version',
          'data.outcome',
          'data.issueKeys',
        ]),
      );
      expect(e.message).toContain('data.outcome');
    }
  });

  it('rejects an unknown type, listing the known ones', () => {
    expect(() => registry().create({ type: 'Nope', data: {} })).toThrow(
      /unknown event type "Nope".*DeploymentCompleted/,
    );
  });

  it('refuses a second, different definition of a type, naming both owners', () => {
    const r = registry();
    r.register(BuildQueued, 'plugin test'); // same definition again is fine
    const other = defineEvent('BuildQueued', z.object({}));
    expect(() => r.register(other, 'plugin other')).toThrow(/defined by both plugin test and plugin other/);
  });

  it('decodes an envelope from outside, checking envelope and data together', () => {
    const r = registry();
    const ok = r.decode({
      specversion: '1.0',
      id: 'abc-1',
      source: 'ci/github',
      type: 'DeploymentCompleted',
      data: deployment,
    });
    expect(ok.id).toBe('abc-1');
    expect(ok.correlationid).toBe('abc-1');
    try {
      r.decode({
        specversion: '0.3',
        source: '',
        type: 'DeploymentCompleted',
        data: { service: 1 },
        BadExt: 'x',
      });
      expect.unreachable();
    } catch (error) {
      const paths = (error as EventValidationError).issues.map((i) => i.path);
      expect(paths).toEqual(
        expect.arrayContaining(['specversion', 'id', 'source', 'BadExt', 'data.service']),
      );
    }
  });

  it('exports a JSON Schema per event type', () => {
    const schema = registry().jsonSchema('DeploymentCompleted');
    expect(schema).toMatchObject({
      type: 'object',
      required: expect.arrayContaining(['service', 'environment', 'outcome', 'issueKeys']),
    });
    expect((schema.properties as Record<string, { enum?: string[] }>).outcome?.enum).toEqual([
      'succeeded',
      'failed',
    ]);
  });

  it('rejects malformed type names at definition', () => {
    expect(() => defineEvent('bad type!', z.object({}))).toThrow(/must start with a letter/);
  });
});

describe('event map types', () => {
  it('types built-in and merged events', () => {
    expectTypeOf<EventMap['DeploymentCompleted']>().toEqualTypeOf<DeploymentCompletedData>();
    expectTypeOf<EventMap['BuildQueued']>().toEqualTypeOf<{ queue: string; position: number }>();
    expectTypeOf<EventOf<'MetricValidated'>['data']['verdict']>().toEqualTypeOf<
      'passed' | 'failed' | 'inconclusive'
    >();
    expectTypeOf(DeploymentCompleted.type).toEqualTypeOf<'DeploymentCompleted'>();
    expectTypeOf<EventOf<'BuildQueued'>>().toExtend<SwitchyardEvent>();
  });
});
