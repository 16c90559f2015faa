/*
 * The pattern engine behind the condition operator `matches`.
 *
 * Why not RegExp: V8 backtracks, and backtracking is exploitable even without nested quantifiers —
 * `.*a.*b.*c` against 1,000 characters of event data took 25 s here. Heuristics (star height, as in
 * safe-regex) do not catch that, and RE2 bindings need a native build. So patterns are compiled
 * once, at load, into a Thompson NFA and run by simulating all states in step: time grows with
 * pattern size × subject length, never exponentially, whatever the pattern.
 *
 * The dialect is the common core of JavaScript and RE2 syntax, searching anywhere in the subject
 * like RegExp#test: literals, `.`, `[a-z]`, `[^…]`, `\d \D \w \W \s \S \b \B`, `^ $`, groups
 * `( )` and `(?: )`, `|`, and `* + ? {n} {n,} {n,m}` (lazy `?` accepted, irrelevant to a yes/no
 * match). Not supported, and refused with a reason: backreferences, lookaround, named groups, flags.
 */

export class PatternError extends Error {
  constructor(
    message: string,
    readonly offset: number,
    readonly fix?: string,
  ) {
    super(message);
  }
}

export const MAX_PATTERN_LENGTH = 256;
/** Limit on program size after expanding counted repeats like `{1,50}`. */
const MAX_INSTRUCTIONS = 2_000;
const MAX_REPEAT = 100;

type CharTest = (cp: number) => boolean;
type Node =
  | { kind: 'char'; test: CharTest }
  | { kind: 'assert'; at: '^' | '$' | 'b' | 'B' }
  | { kind: 'seq'; items: Node[] }
  | { kind: 'alt'; options: Node[] }
  | { kind: 'repeat'; node: Node; min: number; max: number };

const isWordCp = (cp: number) =>
  (cp >= 48 && cp <= 57) || (cp >= 65 && cp <= 90) || (cp >= 97 && cp <= 122) || cp === 95;
const isDigitCp = (cp: number) => cp >= 48 && cp <= 57;
const SPACE = /\s/u;
const isSpaceCp = (cp: number) => SPACE.test(String.fromCodePoint(cp));
const isLineTerminator = (cp: number) => cp === 10 || cp === 13 || cp === 0x2028 || cp === 0x2029;

const CLASS_ESCAPES: Record<string, CharTest> = {
  d: isDigitCp,
  D: (cp) => !isDigitCp(cp),
  w: isWordCp,
  W: (cp) => !isWordCp(cp),
  s: isSpaceCp,
  S: (cp) => !isSpaceCp(cp),
};
const CONTROL_ESCAPES: Record<string, number> = { t: 9, n: 10, r: 13, f: 12, v: 11, '0': 0 };
const SYNTAX_CHARS = '^$\\.*+?()[]{}|/-';

class PatternParser {
  #i = 0;
  #depth = 0;
  constructor(readonly pattern: string) {}

  parse(): Node {
    const node = this.#alt();
    if (this.#i < this.pattern.length) throw new PatternError('unmatched ")"', this.#i, 'escape it as \\)');
    return node;
  }

  #peek(): string | undefined {
    return this.pattern[this.#i];
  }

  #alt(): Node {
    const options = [this.#seq()];
    while (this.#peek() === '|') {
      this.#i++;
      options.push(this.#seq());
    }
    return options.length === 1 ? options[0]! : { kind: 'alt', options };
  }

  #seq(): Node {
    const items: Node[] = [];
    for (let ch = this.#peek(); ch !== undefined && ch !== '|' && ch !== ')'; ch = this.#peek()) {
      items.push(this.#repeat(this.#atom()));
    }
    return { kind: 'seq', items };
  }

  #repeat(node: Node): Node {
    const at = this.#i;
    const ch = this.#peek();
    let min: number;
    let max: number;
    if (ch === '*' || ch === '+' || ch === '?') {
      [min, max] = ch === '*' ? [0, Infinity] : ch === '+' ? [1, Infinity] : [0, 1];
      this.#i++;
    } else if (ch === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.pattern.slice(this.#i));
      if (m === null)
        throw new PatternError(
          '"{" must start a repeat like {2} or {1,3}',
          at,
          'escape a literal brace as \\{',
        );
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      if (min > max) throw new PatternError(`repeat {${min},${max}} has min above max`, at);
      if (min > MAX_REPEAT || (max !== Infinity && max > MAX_REPEAT)) {
        throw new PatternError(`repeat counts above ${MAX_REPEAT} are not supported`, at);
      }
      this.#i += m[0].length;
    } else {
      return node;
    }
    if (node.kind === 'assert') throw new PatternError('an anchor cannot be repeated', at);
    if (this.#peek() === '?') this.#i++; // lazy: same yes/no answer
    const next = this.#peek();
    if (next === '*' || next === '+' || next === '?' || next === '{') {
      throw new PatternError('a repeat cannot be repeated', this.#i, 'wrap it in a group: (?:a+)*');
    }
    return { kind: 'repeat', node, min, max };
  }

  #atom(): Node {
    const at = this.#i;
    const ch = this.pattern[this.#i++]!;
    switch (ch) {
      case '(': {
        if (this.pattern.startsWith('?:', this.#i)) this.#i += 2;
        else if (this.#peek() === '?') {
          const what = /^\?<?[=!]/.test(this.pattern.slice(this.#i))
            ? 'lookaround'
            : 'named groups and flags';
          throw new PatternError(`${what} (?…) not supported`, at, 'use plain groups (…) or (?:…)');
        }
        if (++this.#depth > 32) throw new PatternError('groups nested too deeply', at);
        const inner = this.#alt();
        this.#depth--;
        if (this.#peek() !== ')') throw new PatternError('unclosed "("', at, 'close the group with )');
        this.#i++;
        return inner;
      }
      case '[':
        return this.#class(at);
      case '.':
        return { kind: 'char', test: (cp) => !isLineTerminator(cp) };
      case '^':
      case '$':
        return { kind: 'assert', at: ch };
      case '\\':
        return this.#escape(at, false) as Node;
      case '*':
      case '+':
      case '?':
      case '{':
        throw new PatternError(`"${ch}" has nothing to repeat`, at, `escape a literal ${ch} as \\${ch}`);
      case ']':
      case '}':
        throw new PatternError(`unmatched "${ch}"`, at, `escape a literal ${ch} as \\${ch}`);
      default: {
        const cp = this.pattern.codePointAt(at)!;
        if (cp > 0xffff) this.#i++;
        return { kind: 'char', test: (c) => c === cp };
      }
    }
  }

  /** An escape after `\`. In a class, returns a code point or a class test; outside, a node. */
  #escape(at: number, inClass: boolean): Node | number | CharTest {
    const ch = this.pattern[this.#i++];
    if (ch === undefined) throw new PatternError('pattern ends with "\\"', at, 'escape a backslash as \\\\');
    const test = CLASS_ESCAPES[ch];
    if (test !== undefined && Object.hasOwn(CLASS_ESCAPES, ch))
      return inClass ? test : { kind: 'char', test };
    if ((ch === 'b' || ch === 'B') && !inClass) return { kind: 'assert', at: ch };
    let cp: number | undefined;
    if (Object.hasOwn(CONTROL_ESCAPES, ch)) cp = CONTROL_ESCAPES[ch];
    else if (SYNTAX_CHARS.includes(ch)) cp = ch.charCodeAt(0);
    else if (ch === 'x' || ch === 'u') {
      const width = ch === 'x' ? 2 : 4;
      const hex = this.pattern.slice(this.#i, this.#i + width);
      if (!new RegExp(`^[0-9a-fA-F]{${width}}$`).test(hex)) {
        throw new PatternError(`\\${ch} needs ${width} hex digits`, at);
      }
      cp = Number.parseInt(hex, 16);
      this.#i += width;
    } else if (/[1-9]/.test(ch) || ch === 'k') {
      throw new PatternError(
        'backreferences are not supported',
        at,
        'they make matching slow; match the text itself',
      );
    } else {
      throw new PatternError(
        `unknown escape "\\${ch}"`,
        at,
        'escape only punctuation; \\d \\w \\s \\b and \\t \\n are known',
      );
    }
    if (inClass) return cp!;
    const value = cp!;
    return { kind: 'char', test: (c) => c === value };
  }

  #class(at: number): Node {
    const negate = this.#peek() === '^';
    if (negate) this.#i++;
    const tests: CharTest[] = [];
    const item = (): number | CharTest => {
      const itemAt = this.#i;
      const ch = this.pattern[this.#i++];
      if (ch === undefined) throw new PatternError('unclosed "["', at, 'close the class with ]');
      if (ch === '\\') return this.#escape(itemAt, true) as number | CharTest;
      const cp = this.pattern.codePointAt(itemAt)!;
      if (cp > 0xffff) this.#i++;
      return cp;
    };
    while (this.#peek() !== ']') {
      const first = item();
      if (
        this.#peek() === '-' &&
        this.pattern[this.#i + 1] !== ']' &&
        this.pattern[this.#i + 1] !== undefined
      ) {
        const dashAt = this.#i++;
        const last = item();
        if (typeof first !== 'number' || typeof last !== 'number') {
          throw new PatternError(
            'a range needs single characters at both ends',
            dashAt,
            'escape a literal - as \\-',
          );
        }
        if (first > last)
          throw new PatternError('range out of order', dashAt, 'write the smaller character first');
        tests.push((cp) => cp >= first && cp <= last);
      } else if (typeof first === 'number') {
        tests.push((cp) => cp === first);
      } else {
        tests.push(first);
      }
    }
    this.#i++;
    return { kind: 'char', test: (cp) => tests.some((t) => t(cp)) !== negate };
  }
}

type Inst =
  | { op: 'char'; test: CharTest; next: number }
  | { op: 'assert'; at: '^' | '$' | 'b' | 'B'; next: number }
  | { op: 'split'; a: number; b: number }
  | { op: 'jmp'; to: number }
  | { op: 'match' };

/** Thompson construction: emits the node, leaving its exit to patch to `next`. */
class Compiler {
  readonly prog: Inst[] = [];

  #push(inst: Inst): number {
    if (this.prog.length >= MAX_INSTRUCTIONS) {
      throw new PatternError(
        'pattern too large once its repeats are expanded',
        0,
        'use smaller {n,m} counts',
      );
    }
    this.prog.push(inst);
    return this.prog.length - 1;
  }

  /** Emits `node` so that its exit falls through to the next instruction emitted. */
  emit(node: Node): void {
    switch (node.kind) {
      case 'char':
        this.#push({ op: 'char', test: node.test, next: this.prog.length + 1 });
        return;
      case 'assert':
        this.#push({ op: 'assert', at: node.at, next: this.prog.length + 1 });
        return;
      case 'seq':
        for (const item of node.items) this.emit(item);
        return;
      case 'alt': {
        const jumps: Inst[] = [];
        node.options.forEach((option, i) => {
          if (i < node.options.length - 1) {
            const split = { op: 'split', a: 0, b: 0 } as Extract<Inst, { op: 'split' }>;
            this.#push(split);
            split.a = this.prog.length;
            this.emit(option);
            const jmp = { op: 'jmp', to: 0 } as Extract<Inst, { op: 'jmp' }>;
            this.#push(jmp);
            jumps.push(jmp);
            split.b = this.prog.length;
          } else {
            this.emit(option);
          }
        });
        for (const jmp of jumps) (jmp as { to: number }).to = this.prog.length;
        return;
      }
      case 'repeat': {
        for (let i = 0; i < node.min; i++) this.emit(node.node);
        if (node.max === Infinity) {
          const split = { op: 'split', a: 0, b: 0 } as Extract<Inst, { op: 'split' }>;
          const loop = this.#push(split);
          split.a = this.prog.length;
          this.emit(node.node);
          this.#push({ op: 'jmp', to: loop });
          split.b = this.prog.length;
          return;
        }
        const splits: Extract<Inst, { op: 'split' }>[] = [];
        for (let i = node.min; i < node.max; i++) {
          const split = { op: 'split', a: 0, b: 0 } as Extract<Inst, { op: 'split' }>;
          this.#push(split);
          split.a = this.prog.length;
          splits.push(split);
          this.emit(node.node);
        }
        for (const split of splits) split.b = this.prog.length;
        return;
      }
    }
  }
}

export interface Pattern {
  readonly source: string;
  /** True when the pattern matches anywhere in `subject` (like RegExp#test). Linear time. */
  test(subject: string): boolean;
}

export function compilePattern(source: string): Pattern {
  if (source.length > MAX_PATTERN_LENGTH) {
    throw new PatternError(
      `pattern longer than ${MAX_PATTERN_LENGTH} characters`,
      0,
      'split the check with && or use startsWith/contains',
    );
  }
  const compiler = new Compiler();
  compiler.emit(new PatternParser(source).parse());
  compiler.prog.push({ op: 'match' });
  const prog = compiler.prog;
  return { source, test: (subject) => run(prog, subject) };
}

function run(prog: readonly Inst[], subject: string): boolean {
  const cps = Array.from(subject, (c) => c.codePointAt(0)!);
  // Generation marks instead of clearing a Set for every position.
  const seen = new Uint32Array(prog.length);
  let generation = 1;

  // Follows jumps, splits and assertions from `start` at position `pos`, collecting the character
  // instructions reached into `list`; true as soon as the match instruction is reached.
  const add = (list: number[], start: number, pos: number): boolean => {
    const stack = [start];
    while (stack.length > 0) {
      const pc = stack.pop()!;
      if (seen[pc] === generation) continue;
      seen[pc] = generation;
      const inst = prog[pc]!;
      switch (inst.op) {
        case 'match':
          return true;
        case 'jmp':
          stack.push(inst.to);
          break;
        case 'split':
          stack.push(inst.b, inst.a);
          break;
        case 'assert':
          if (assertHolds(inst.at, cps, pos)) stack.push(inst.next);
          break;
        case 'char':
          list.push(pc);
          break;
      }
    }
    return false;
  };

  let threads: number[] = [];
  if (add(threads, 0, 0)) return true;
  for (let pos = 0; pos < cps.length; pos++) {
    const cp = cps[pos]!;
    const next: number[] = [];
    generation++;
    for (const pc of threads) {
      const inst = prog[pc] as Extract<Inst, { op: 'char' }>;
      if (inst.test(cp) && add(next, inst.next, pos + 1)) return true;
    }
    // Seeding the start state again at every position makes this a search, like RegExp#test.
    if (add(next, 0, pos + 1)) return true;
    threads = next;
  }
  return false;
}

function assertHolds(at: '^' | '$' | 'b' | 'B', cps: readonly number[], pos: number): boolean {
  if (at === '^') return pos === 0;
  if (at === '$') return pos === cps.length;
  const before = pos > 0 && isWordCp(cps[pos - 1]!);
  const after = pos < cps.length && isWordCp(cps[pos]!);
  return (before !== after) === (at === 'b');
}
