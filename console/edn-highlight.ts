// EDN for the query editor: tokens for syntax highlighting and the bracket that matches the one at
// the caret. Pure: no DOM, unit-tested in test/console-edn-highlight.test.ts.

export type TokenKind = 'string' | 'number' | 'keyword' | 'variable' | 'symbol' | 'literal' | 'tag' | 'comment' | 'bracket' | 'space' | 'char' | 'other';

export interface Token {
  kind: TokenKind;
  start: number;
  end: number;
}

const OPENERS = '([{';
const CLOSERS = ')]}';
/** Characters that end a symbol, keyword or number. */
const DELIMITER = /[\s,()[\]{}";]/;

function scanWhile(text: string, i: number, pred: (c: string) => boolean): number {
  while (i < text.length && pred(text[i]!)) i++;
  return i;
}

function atomEnd(text: string, i: number): number {
  return scanWhile(text, i, (c) => !DELIMITER.test(c));
}

function stringEnd(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    if (text[j] === '\\') j++;
    else if (text[j] === '"') return j + 1;
  }
  return text.length; // unterminated: the rest is string
}

function atomKind(atom: string): TokenKind {
  if (/^[+-]?\d/.test(atom)) return 'number';
  if (atom.startsWith(':')) return 'keyword';
  if (atom.startsWith('?')) return 'variable';
  if (atom === 'nil' || atom === 'true' || atom === 'false') return 'literal';
  if (atom === '$' || atom === '%' || atom === '_' || atom === '...') return 'variable';
  return 'symbol';
}

/** The tokens of `text`, covering every character once, in order. Never throws on bad input. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const push = (kind: TokenKind, end: number) => {
    tokens.push({ kind, start: i, end });
    i = end;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (/[\s,]/.test(c))
      push(
        'space',
        scanWhile(text, i, (x) => /[\s,]/.test(x)),
      );
    else if (c === ';')
      push(
        'comment',
        scanWhile(text, i, (x) => x !== '\n'),
      );
    else if (c === '"') push('string', stringEnd(text, i));
    else if (OPENERS.includes(c) || CLOSERS.includes(c)) push('bracket', i + 1);
    else if (c === '\\') push('char', Math.min(text.length, Math.max(i + 2, atomEnd(text, i + 2))));
    else if (c === '#' && text[i + 1] === '{') push('bracket', i + 2);
    else if (c === '#' && text[i + 1] === '_') push('comment', i + 2);
    else if (c === '#') push('tag', Math.max(i + 1, atomEnd(text, i + 1)));
    else {
      const end = atomEnd(text, i);
      if (end === i) push('other', i + 1);
      else push(atomKind(text.slice(i, end)), end);
    }
  }
  return tokens;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => HTML_ESCAPES[c]!);
}

/** The closer for an opening bracket token ('(' -> ')', '#{' -> '}'). */
function closerOf(open: string): string {
  return CLOSERS[OPENERS.indexOf(open.slice(-1))]!;
}

/**
 * The bracket next to the caret (the one just before it, else the one just after) and the start of
 * its match; match is null when the partner is missing or of another kind.
 */
export function matchBracket(tokens: Token[], text: string, caret: number): { at: number; match: number | null } | null {
  const brackets = tokens.filter((t) => t.kind === 'bracket');
  const here = brackets.find((t) => t.end === caret) ?? brackets.find((t) => t.start === caret);
  if (!here) return null;
  const idx = brackets.indexOf(here);
  const isOpen = OPENERS.includes(text[here.end - 1]!);
  let depth = 0;
  if (isOpen) {
    for (let j = idx + 1; j < brackets.length; j++) {
      const b = brackets[j]!;
      if (!CLOSERS.includes(text[b.start]!)) depth++;
      else if (depth > 0) depth--;
      else return { at: here.start, match: text[b.start] === closerOf(text.slice(here.start, here.end)) ? b.start : null };
    }
  } else {
    for (let j = idx - 1; j >= 0; j--) {
      const b = brackets[j]!;
      if (CLOSERS.includes(text[b.start]!)) depth++;
      else if (depth > 0) depth--;
      else return { at: here.start, match: closerOf(text.slice(b.start, b.end)) === text[here.start] ? b.start : null };
    }
  }
  return { at: here.start, match: null };
}

/** `text` as HTML: one span per token (class tok-KIND), brackets at `caret` marked as matched or not. */
export function highlightHtml(text: string, caret: number | null = null): string {
  const tokens = tokenize(text);
  const pair = caret === null ? null : matchBracket(tokens, text, caret);
  return tokens
    .map((t) => {
      const body = escapeHtml(text.slice(t.start, t.end));
      if (t.kind === 'space') return body;
      let cls = `tok-${t.kind}`;
      if (pair && (t.start === pair.at || t.start === pair.match)) cls += pair.match === null ? ' bracket-unmatched' : ' bracket-match';
      return `<span class="${cls}">${body}</span>`;
    })
    .join('');
}
