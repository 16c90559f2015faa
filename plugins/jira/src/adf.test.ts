import { adfProblem } from '@switchyard/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCommentText, toAdf, toWiki } from './adf.js';

describe('comment text', () => {
  it('keeps code and bold apart in ADF and escapes wiki markup', () => {
    const doc = parseCommentText('**see `x` and https://a.io/b?c=1**');
    expect(toAdf(doc).content[0]!.content).toEqual([
      { type: 'text', text: 'see ', marks: [{ type: 'strong' }] },
      { type: 'text', text: 'x', marks: [{ type: 'code' }] },
      { type: 'text', text: ' and ', marks: [{ type: 'strong' }] },
      {
        type: 'text',
        text: 'https://a.io/b?c=1',
        marks: [{ type: 'strong' }, { type: 'link', attrs: { href: 'https://a.io/b?c=1' } }],
      },
    ]);
    expect(toWiki(parseCommentText('a_b [x] {y} | z'))).toBe('a\\_b \\[x\\] \\{y\\} \\| z');
    expect(parseCommentText(' \n\n ')).toEqual([]);
  });

  it('always produces ADF that Jira accepts, whatever the text', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom(
            'a',
            ' ',
            '\n',
            '*',
            '`',
            '[',
            ']',
            '(',
            ')',
            'h',
            't',
            'p',
            ':',
            '/',
            's',
            '.',
          ),
        }),
        (text) => {
          expect(adfProblem(toAdf(parseCommentText(text)))).toBeUndefined();
        },
      ),
      { numRuns: 300 },
    );
  });
});
