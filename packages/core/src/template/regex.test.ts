import { describe, expect, it } from 'vitest';
import { compilePattern, MAX_PATTERN_LENGTH, PatternError } from './regex.js';

describe('the matches dialect agrees with RegExp on what it supports', () => {
  const subjects = [
    '',
    'payments',
    'repay',
    'pay-api',
    'PROJ-123',
    'a foo b',
    'afoo',
    'x\ny',
    'tab\there',
    'é😀',
    'ab'.repeat(3),
  ];
  it.each([
    '^pay',
    'ment$',
    'a|b',
    '^(ab)+$',
    '^(?:ab){2,3}$',
    '^a{2}',
    'o{1,}',
    '\\bfoo\\b',
    '\\Bfoo',
    '^[A-Z]+-\\d+$',
    '^[^x]*$',
    '[a-c-]',
    'x.y',
    '^.$',
    '\\s',
    '\\S+',
    '\\w+\\W',
    '\\D',
    '\\t',
    '\\x41|\\u00e9',
    '😀',
    '^$',
    'p(a|e)y?-?',
    '(a*)*b',
    '[\\d.]+',
    'a+?b',
    '\\.|\\*|\\[',
  ])('%s', (pattern) => {
    const ours = compilePattern(pattern);
    const native = new RegExp(pattern, 'u');
    for (const subject of subjects)
      expect([subject, ours.test(subject)]).toEqual([subject, native.test(subject)]);
  });
});

describe('refused patterns', () => {
  it.each([
    ['(a)\\1', 'backreferences are not supported'],
    ['(?<n>a)\\k<n>', 'named groups and flags'],
    ['(?=a)', 'lookaround'],
    ['(?<!a)b', 'lookaround'],
    ['(?i)abc', 'named groups and flags'],
    ['a**', 'a repeat cannot be repeated'],
    ['*a', 'nothing to repeat'],
    ['a{2', '"{" must start a repeat'],
    ['a{3,1}', 'min above max'],
    ['a{1,500}', 'repeat counts above 100'],
    ['(a', 'unclosed "("'],
    ['a)', 'unmatched ")"'],
    ['[a-', 'unclosed "["'],
    ['[z-a]', 'range out of order'],
    ['[\\d-z]', 'single characters at both ends'],
    ['\\q', 'unknown escape'],
    ['a\\', 'ends with "\\"'],
    ['^*', 'an anchor cannot be repeated'],
    ['(((((a{1,100}){1,100}){1,100})))', 'pattern too large'],
    ['x'.repeat(MAX_PATTERN_LENGTH + 1), 'longer than 256'],
  ])('%s: %s', (pattern, problem) => {
    expect(() => compilePattern(pattern)).toThrow(PatternError);
    expect(() => compilePattern(pattern)).toThrow(problem);
  });
});

describe('linear time', () => {
  // These take minutes to hours with a backtracking engine (measured: `.*a.*b.*c` on 1,000
  // characters took 25 s in V8). Here they finish within the test timeout whatever the machine.
  it.each([
    ['.*a.*b.*c', 'ab'.repeat(5_000)],
    ['^(a+)+$', `${'a'.repeat(10_000)}!`],
    ['^(\\w+\\s?)*$', `${'word '.repeat(2_000)}!`],
    ['(a|aa)+$', `${'a'.repeat(10_000)}b`],
    ['(x+x+)+y', 'x'.repeat(10_000)],
  ])('%s does not blow up', (pattern, subject) => {
    expect(compilePattern(pattern).test(subject)).toBe(false);
  });
});
