/** Variation values as the person types them, per flag kind, and back. */
export type FlagKind = 'boolean' | 'string' | 'number' | 'json';

export function formatValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Parses a typed value for the flag's kind; throws a sentence for the person. */
export function parseValue(kind: FlagKind, text: string): unknown {
  switch (kind) {
    case 'string':
      return text;
    case 'boolean':
      if (text === 'true' || text === 'false') return text === 'true';
      throw new Error(`"${text}" is not true or false`);
    case 'number': {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n)) throw new Error(`"${text}" is not a number`);
      return n;
    }
    case 'json':
      try {
        return JSON.parse(text);
      } catch {
        throw new Error(`"${text}" is not valid JSON`);
      }
  }
}

/** A clause value as typed: numbers for numeric operators, strings otherwise (booleans kept). */
export function parseClauseValue(op: string, text: string): unknown {
  const t = text.trim();
  if (['lt', 'lte', 'gt', 'gte'].includes(op)) {
    const n = Number(t);
    return t !== '' && Number.isFinite(n) ? n : t;
  }
  if (op === 'in' || op === 'notIn') {
    if (t === 'true' || t === 'false') return t === 'true';
    if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  }
  return t;
}
