import { z } from 'zod';
import { ErrorCodes, PermanentError } from '../errors.js';
import {
  createEnvelope,
  type EnvelopeInput,
  EventValidationError,
  envelopeAttributeIssues,
  envelopeSchema,
  type SwitchyardEvent,
  zodIssues,
} from './envelope.js';

const EVENT_DEFINITION = Symbol.for('switchyard.eventDefinition');

export interface EventDefinition<T extends string = string, D = unknown> {
  readonly type: T;
  readonly schema: z.ZodType<D>;
  readonly description: string | undefined;
  readonly [EVENT_DEFINITION]: true;
}

/**
 * Declares an event type: the runtime schema validates data at every boundary, and the static type
 * comes from the schema. Add the type to `EventMap` by declaration merging so `publish` checks it.
 */
export function defineEvent<T extends string, S extends z.ZodType>(
  type: T,
  schema: S,
  options: { description?: string } = {},
): EventDefinition<T, z.output<S>> {
  if (!/^[A-Za-z][A-Za-z0-9.]*$/.test(type)) {
    throw new PermanentError(
      ErrorCodes.EVENT_INVALID,
      `event type "${type}" must start with a letter and hold only letters, digits and dots`,
    );
  }
  return Object.freeze({
    type,
    schema: schema as unknown as z.ZodType<z.output<S>>,
    description: options.description,
    [EVENT_DEFINITION]: true as const,
  });
}

export function isEventDefinition(value: unknown): value is EventDefinition {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[EVENT_DEFINITION] === true
  );
}

interface Registered {
  definition: EventDefinition;
  owner: string;
}

/** The event types known to one bus: core's built-ins plus what the loaded plugins define. */
export class EventRegistry {
  readonly #types = new Map<string, Registered>();

  register(definition: EventDefinition, owner = 'core'): void {
    const existing = this.#types.get(definition.type);
    if (existing) {
      if (existing.definition === definition) return;
      throw new PermanentError(
        ErrorCodes.EVENT_TYPE_CONFLICT,
        `event type "${definition.type}" is defined by both ${existing.owner} and ${owner}; rename one of them`,
        { details: { type: definition.type, owners: [existing.owner, owner] } },
      );
    }
    this.#types.set(definition.type, { definition, owner });
  }

  has(type: string): boolean {
    return this.#types.has(type);
  }

  get(type: string): EventDefinition | undefined {
    return this.#types.get(type)?.definition;
  }

  owner(type: string): string | undefined {
    return this.#types.get(type)?.owner;
  }

  types(): string[] {
    return [...this.#types.keys()].sort();
  }

  /** Validates data of a known type; throws naming every bad field. Returns the parsed data. */
  validateData(type: string, data: unknown): unknown {
    const registered = this.#types.get(type);
    if (!registered) throw this.unknownType(type);
    const result = registered.definition.schema.safeParse(data);
    if (!result.success) throw new EventValidationError(`${type} data`, zodIssues(result.error, 'data'));
    return result.data;
  }

  /** Builds a validated, frozen envelope. */
  create(input: EnvelopeInput, now?: number): SwitchyardEvent {
    const data = this.validateData(input.type, input.data);
    return createEnvelope({ ...input, data }, now);
  }

  /**
   * Validates an envelope that arrived from outside (HTTP ingest, transport decode): the envelope
   * attributes and the data against its type's schema, all problems at once.
   */
  decode(raw: unknown, now?: number): SwitchyardEvent {
    const parsed = envelopeSchema.safeParse(raw);
    const issues = parsed.success ? [] : zodIssues(parsed.error);
    for (const issue of envelopeAttributeIssues(raw))
      if (!issues.some((i) => i.path === issue.path)) issues.push(issue);
    const type = (raw as { type?: unknown } | null)?.type;
    let validData: unknown;
    if (typeof type === 'string' && type.length > 0) {
      const registered = this.#types.get(type);
      if (!registered) {
        issues.push({
          path: 'type',
          message: `unknown event type "${type}"; known: ${this.types().join(', ')}`,
        });
      } else {
        const data = registered.definition.schema.safeParse((raw as { data?: unknown }).data);
        if (!data.success) issues.push(...zodIssues(data.error, 'data'));
        else validData = data.data;
      }
    }
    if (issues.length > 0 || !parsed.success) throw new EventValidationError('event', issues);
    const value = parsed.data;
    const { specversion: _s, datacontenttype: _d, dataschema: _ds, ...rest } = value;
    // The data was validated above; parsing it a second time cost ~10% of HTTP ingest.
    return createEnvelope({ ...rest, data: validData } as EnvelopeInput, now);
  }

  /** JSON Schema of one event type's data (docs, editors, other languages). */
  jsonSchema(type: string): Record<string, unknown> {
    const registered = this.#types.get(type);
    if (!registered) throw this.unknownType(type);
    return z.toJSONSchema(registered.definition.schema, { unrepresentable: 'any' }) as Record<
      string,
      unknown
    >;
  }

  private unknownType(type: string): PermanentError {
    return new PermanentError(
      ErrorCodes.EVENT_UNKNOWN_TYPE,
      `unknown event type "${type}"; known types: ${this.types().join(', ') || '(none)'}. ` +
        'A plugin that emits it must be loaded, or the type defined with defineEvent().',
      { details: { type } },
    );
  }
}
