/**
 * Keyset pagination: rows come ordered by id and a page resumes after the last id seen, so a page
 * costs the same at the millionth row as at the first (no OFFSET scan).
 */
export interface PageRequest {
  cursor?: string;
  limit: number;
  /** By id from the oldest (the default) or from the newest; a cursor continues in its page's order. */
  order?: 'asc' | 'desc';
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

interface KeysetQuery {
  where(column: string, operator: string, value: number): unknown;
  orderBy(column: string, order: 'asc' | 'desc'): unknown;
  limit(limit: number): unknown;
}

/**
 * One page of `query`: the rows after the cursor in the page's order, one more than asked (see
 * toPage). Every list's index ends in id, so either direction reads only the rows it returns.
 * `leading` columns (each held to one value by the query) come before id in the order, as in the index.
 */
export function keysetPage<Q extends KeysetQuery>(query: Q, request: PageRequest, leading: string[] = []): Q {
  const descending = request.order === 'desc';
  if (request.cursor) query.where('id', descending ? '<' : '>', Number(request.cursor));
  for (const column of [...leading, 'id']) query.orderBy(column, descending ? 'desc' : 'asc');
  query.limit(request.limit + 1);
  return query;
}

/** Callers fetch `limit + 1` rows; the extra row only tells whether another page exists. */
export function toPage<T extends { id: number }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  return { items, next_cursor: rows.length > limit ? String(items[items.length - 1].id) : null };
}
