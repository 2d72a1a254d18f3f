/**
 * A JSON value from a caller, checked without recursion (JSON.parse builds values of any depth;
 * what walks them later, JSON.stringify or a database driver, may not): no NUL character in any
 * string or key (PostgreSQL refuses them in text), and a bounded nesting depth.
 */
export interface JsonLimits {
  maxDepth: number;
}

export function jsonValueProblem(value: unknown, limits: JsonLimits, at = 'body'): string | null {
  const stack: { value: unknown; depth: number; at: string }[] = [{ value, depth: 0, at }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    const current = item.value;
    if (typeof current === 'string') {
      if (current.includes('\u0000')) return `${item.at} must not contain NUL characters`;
      continue;
    }
    if (typeof current !== 'object' || current === null) continue;
    if (item.depth >= limits.maxDepth) return `${item.at} is nested deeper than ${limits.maxDepth} levels`;
    if (Array.isArray(current)) {
      for (let i = 0; i < current.length; i++)
        stack.push({ value: current[i], depth: item.depth + 1, at: `${item.at}[${i}]` });
      continue;
    }
    for (const [key, child] of Object.entries(current)) {
      if (key.includes('\u0000')) return `${item.at} has a key with a NUL character`;
      stack.push({ value: child, depth: item.depth + 1, at: `${item.at}.${key}` });
    }
  }
  return null;
}
