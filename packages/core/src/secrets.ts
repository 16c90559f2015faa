import type { DestinationStream } from 'pino';

const MASK = '[redacted]';

/**
 * Every secret value the runner resolved (${env:…}, ${file:…}) or a plugin registered. Anything
 * written to logs, errors or API answers passes through `redact`, so a secret that slips into a
 * message (a URL with its token, an upstream error echoing a header) is masked.
 */
export class Secrets {
  readonly #values = new Set<string>();
  #pattern: RegExp | undefined;

  add(value: string | undefined | null): void {
    // Very short values would mask ordinary words; nobody's secret is three characters long.
    if (!value || value.length < 4 || this.#values.has(value)) return;
    this.#values.add(value);
    const encoded = encodeURIComponent(value);
    if (encoded !== value) this.#values.add(encoded);
    this.#pattern = undefined;
  }

  get size(): number {
    return this.#values.size;
  }

  redact(text: string): string {
    if (this.#values.size === 0) return text;
    this.#pattern ??= new RegExp(
      [...this.#values]
        .sort((a, b) => b.length - a.length)
        .map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('|'),
      'g',
    );
    return text.replace(this.#pattern, MASK);
  }

  /** Deep copy of a JSON-able value with every secret string masked. */
  redactValue<T>(value: T): T {
    if (this.#values.size === 0) return value;
    return JSON.parse(this.redact(JSON.stringify(value) ?? 'null')) as T;
  }
}

/** A pino destination that masks secrets in every line before it reaches the real stream. */
export function redactingDestination(
  secrets: Secrets,
  destination: { write(chunk: string): unknown } = process.stdout,
): DestinationStream {
  return {
    write(line: string) {
      destination.write(secrets.redact(line));
    },
  };
}
