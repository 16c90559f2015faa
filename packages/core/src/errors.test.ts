import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, isSwitchyardError, PermanentError, RetryableError, toErrorInfo } from './index.js';

const repo = join(import.meta.dirname, '..', '..', '..');

/** Every `SY_…` code declared in any package's errors.ts. */
function declaredCodes(): Map<string, string> {
  const codes = new Map<string, string>();
  for (const group of ['packages', 'plugins', 'apps']) {
    const dir = join(repo, group);
    if (!existsSync(dir)) continue;
    for (const pkg of readdirSync(dir)) {
      const file = join(dir, pkg, 'src', 'errors.ts');
      if (!existsSync(file)) continue;
      for (const m of readFileSync(file, 'utf8').matchAll(/['"](SY_[A-Z0-9_]+)['"]/g))
        codes.set(m[1]!, `${group}/${pkg}`);
    }
  }
  return codes;
}

function documentedText(): string {
  const docs = join(repo, 'docs');
  let text = existsSync(join(docs, 'errors.md')) ? readFileSync(join(docs, 'errors.md'), 'utf8') : '';
  const dir = join(docs, 'errors');
  if (existsSync(dir))
    for (const f of readdirSync(dir)) if (f.endsWith('.md')) text += readFileSync(join(dir, f), 'utf8');
  return text;
}

describe('errors', () => {
  it('documents every error code of every package with a fix (docs/errors.md, docs/errors/*.md)', () => {
    const text = documentedText();
    const missing = [...declaredCodes()].filter(([code]) => !new RegExp(`\\b${code}\\b`).test(text));
    expect(missing.map(([code, where]) => `${code} (${where})`)).toEqual([]);
    expect(declaredCodes().size).toBeGreaterThanOrEqual(Object.keys(ErrorCodes).length);
  });

  it('recognises errors across package copies by tag, and normalises anything thrown', () => {
    const e = new RetryableError('SY_X', 'later', { retryAfterMs: 5 });
    expect(isSwitchyardError(e)).toBe(true);
    expect(isSwitchyardError(new Error('x'))).toBe(false);
    expect(toErrorInfo(e)).toEqual({ code: 'SY_X', message: 'later', retryable: true, retryAfterMs: 5 });
    expect(toErrorInfo(new PermanentError('SY_Y', 'no'))).toEqual({
      code: 'SY_Y',
      message: 'no',
      retryable: false,
    });
    expect(toErrorInfo(new Error('plain'))).toMatchObject({ code: 'SY_HANDLER_FAILED', retryable: true });
    expect(toErrorInfo('a string')).toMatchObject({ message: 'a string', retryable: true });
    expect(JSON.parse(JSON.stringify(e))).toMatchObject({ code: 'SY_X', retryable: true });
  });
});
