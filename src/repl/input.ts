// Input helpers for the REPL: is an EDN text complete (brackets balanced, outside strings,
// comments and character literals)? Which words can complete the one under the cursor?

/** 'complete', 'incomplete' (an open bracket or string), or 'unbalanced' (a closer too many). */
export function inputState(text: string): 'complete' | 'incomplete' | 'unbalanced' {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    switch (c) {
      case '"':
        inString = true;
        break;
      case ';':
        while (i < text.length && text[i] !== '\n') i++;
        break;
      case '\\':
        i++; // a character literal such as \( or \"
        break;
      case '(':
      case '[':
      case '{':
        depth++;
        break;
      case ')':
      case ']':
      case '}':
        depth--;
        if (depth < 0) return 'unbalanced';
        break;
    }
  }
  return inString || depth > 0 ? 'incomplete' : 'complete';
}

/** Variables (?x) that occur in a text. */
export function variablesIn(text: string): string[] {
  return [...new Set(text.match(/\?[^\s()[\]{}"',;]+/g) ?? [])];
}

/** The word being typed at the end of a line: after the last space or bracket. */
export function lastWord(line: string): string {
  const m = line.match(/[^\s()[\]{}"',]*$/);
  return m ? m[0] : '';
}

/** Readline completer result for the word at the end of `line`. */
export function complete(line: string, candidates: { commands: string[]; idents: string[]; variables: string[] }): [string[], string] {
  const word = lastWord(line);
  let pool: string[];
  if (line.trimStart() === word && word.startsWith('.')) pool = candidates.commands;
  else if (word.startsWith('?')) pool = candidates.variables;
  else if (word.startsWith(':')) pool = candidates.idents;
  else pool = word === '' ? [] : [...candidates.idents, ...candidates.variables];
  const hits = pool.filter((c) => c.startsWith(word)).sort();
  return [hits, word];
}
