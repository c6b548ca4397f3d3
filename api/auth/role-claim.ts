import type { Role } from '../../domain/roles';
import type { OidcOptions } from './options';

/** The value at a dotted path (`realm_access.roles`) of a token's claims. */
function claimAt(claims: Record<string, unknown>, path: string): unknown {
  return path.split('.').reduce<unknown>((value, key) => (value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined), claims);
}

/** The role the claims give: operator when any value of the role claim is an operator value, else viewer for a viewer value. */
export function roleOf(claims: Record<string, unknown>, options: Pick<OidcOptions, 'roleClaim' | 'operatorValues' | 'viewerValues'>): Role | undefined {
  const claim = claimAt(claims, options.roleClaim);
  const values = (Array.isArray(claim) ? claim : [claim]).filter((value): value is string => typeof value === 'string');
  if (values.some((value) => options.operatorValues.includes(value))) return 'operator';
  if (values.some((value) => options.viewerValues.includes(value))) return 'viewer';
  return undefined;
}

/** How a person is named in answers and logs. */
export const nameOf = (claims: Record<string, unknown>) => String(claims.preferred_username ?? claims.name ?? claims.email ?? claims.sub);
