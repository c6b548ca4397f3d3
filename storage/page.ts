/**
 * Keyset pagination: rows come ordered by id and a page resumes after the last id seen, so a page
 * costs the same at the millionth row as at the first (no OFFSET scan).
 */
export interface PageRequest {
  cursor?: string;
  limit: number;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export function afterId(request: PageRequest): number {
  return request.cursor ? Number(request.cursor) : 0;
}

/** Callers fetch `limit + 1` rows; the extra row only tells whether another page exists. */
export function toPage<T extends { id: number }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  return { items, next_cursor: rows.length > limit ? String(items[items.length - 1].id) : null };
}
