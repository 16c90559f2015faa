// Comment text → Jira bodies. Users write light markup (blank line = paragraph, newline = line
// break, **bold**, `code`, [label](url), bare URLs); it is parsed once into a small document model
// and rendered as Atlassian Document Format for API v3 or as wiki markup for API v2.

export type Inline =
  | { kind: 'text'; text: string; bold?: boolean; code?: boolean; href?: string }
  | { kind: 'break' };

/** A paragraph is a list of inline pieces; a document is a list of paragraphs. */
export type Paragraph = Inline[];
export type CommentDoc = Paragraph[];

export interface AdfNode {
  type: string;
  text?: string;
  attrs?: Record<string, unknown>;
  marks?: Array<{ type: string; attrs?: Record<string, unknown> }>;
  content?: AdfNode[];
}

export interface AdfDoc {
  type: 'doc';
  version: 1;
  content: AdfNode[];
}

// One token at a time, earliest match wins: `code`, **bold**, [label](url), bare URL. A bare URL
// stops before trailing punctuation so "see https://x.io." links https://x.io.
const TOKEN =
  /`([^`\n]+)`|\*\*([^\n]+?)\*\*|\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)|(https?:\/\/[^\s<>()]*[^\s<>().,;:!?'"])/g;

/** Parses comment text into paragraphs of inline pieces. */
export function parseCommentText(text: string): CommentDoc {
  const normalized = text.replace(/\r\n?/g, '\n').trim();
  if (normalized === '') return [];
  return normalized
    .split(/\n[ \t]*\n+/)
    .map((block) => {
      const out: Paragraph = [];
      block.split('\n').forEach((line, i) => {
        if (i > 0) out.push({ kind: 'break' });
        out.push(...parseInline(line, false));
      });
      return out;
    })
    .filter((p) => p.length > 0);
}

function parseInline(line: string, bold: boolean): Inline[] {
  const out: Inline[] = [];
  const plain = (s: string) => {
    if (s) out.push(bold ? { kind: 'text', text: s, bold } : { kind: 'text', text: s });
  };
  let last = 0;
  for (const m of line.matchAll(new RegExp(TOKEN.source, 'g'))) {
    plain(line.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[1] !== undefined) out.push({ kind: 'text', text: m[1], code: true });
    else if (m[2] !== undefined) {
      if (bold) plain(m[2]);
      else out.push(...parseInline(m[2], true));
    } else if (m[3] !== undefined) out.push(text(m[3], bold, m[4]));
    else if (m[5] !== undefined) out.push(text(m[5], bold, m[5]));
  }
  plain(line.slice(last));
  return out;
}

function text(value: string, bold: boolean, href?: string): Inline {
  return { kind: 'text', text: value, ...(bold ? { bold } : {}), ...(href ? { href } : {}) };
}

/** The document as ADF (Jira Cloud REST v3). `code` is only ever combined with `link`, as ADF requires. */
export function toAdf(doc: CommentDoc): AdfDoc {
  return {
    type: 'doc',
    version: 1,
    content: doc.map((paragraph) => ({
      type: 'paragraph',
      // ADF forbids empty text nodes.
      content: paragraph
        .filter((piece) => piece.kind === 'break' || piece.text !== '')
        .map((piece): AdfNode => {
          if (piece.kind === 'break') return { type: 'hardBreak' };
          const marks: NonNullable<AdfNode['marks']> = [];
          if (piece.code) marks.push({ type: 'code' });
          else if (piece.bold) marks.push({ type: 'strong' });
          if (piece.href) marks.push({ type: 'link', attrs: { href: piece.href } });
          return { type: 'text', text: piece.text, ...(marks.length > 0 ? { marks } : {}) };
        }),
    })),
  };
}

/** The document as wiki markup (REST v2: Server/Data Center and Cloud's v2). */
export function toWiki(doc: CommentDoc): string {
  return doc
    .map((paragraph) =>
      paragraph
        .map((piece) => {
          if (piece.kind === 'break') return '\n';
          if (piece.code) {
            // {{…}} cannot hold "}}"; {noformat} would break the line, so fall back to escaped text.
            const inner = piece.text.includes('}') ? escapeWiki(piece.text) : `{{${piece.text}}}`;
            return piece.href ? `[${inner}|${piece.href}]` : inner;
          }
          let out = piece.href
            ? piece.text === piece.href
              ? `[${piece.href}]`
              : `[${escapeWiki(piece.text).replace(/\|/g, '\\|')}|${piece.href}]`
            : escapeWiki(piece.text);
          if (piece.bold) out = `*${out}*`;
          return out;
        })
        .join(''),
    )
    .join('\n\n');
}

/** Escapes characters that start wiki markup effects (bold, italics, macros, links, tables…). */
function escapeWiki(value: string): string {
  return value.replace(/[\\*_{}[\]|^~]/g, (c) => `\\${c}`);
}

/** Plain text of a document (for logs and results). */
export function toPlainText(doc: CommentDoc): string {
  return doc.map((p) => p.map((piece) => (piece.kind === 'break' ? '\n' : piece.text)).join('')).join('\n\n');
}
