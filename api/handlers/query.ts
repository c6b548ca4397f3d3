import type { operations } from '../../contract/schema';

type Paged<Q> = Q extends { limit?: infer Limit } ? Omit<Q, 'limit'> & { limit: NonNullable<Limit> } : Q;

/**
 * An operation's query string as its handler sees it: validated, coerced, and with the spec's
 * defaults filled in (api/contract.ts), so a page's `limit` is always there.
 */
export type Query<Op extends keyof operations> = Paged<NonNullable<operations[Op]['parameters']['query']>>;
