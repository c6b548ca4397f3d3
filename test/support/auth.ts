import { randomUUID } from 'node:crypto';
import { loadContract } from '../../api/contract';
import { createApiKey } from '../../domain/api-keys';
import type { Role } from '../../domain/roles';

/** A new API key of that role, named uniquely for this run. */
export async function newApiKey(role: Role, prefix = 'test'): Promise<{ key: string; name: string; id: number }> {
  const { key, record } = await createApiKey(`${prefix}-${role}-${randomUUID().slice(0, 8)}`, role);
  return { key, name: record.name, id: record.id };
}

export interface SpecOperation {
  operationId: string;
  method: string;
  /** The spec's path with every parameter filled in with 1. */
  path: string;
  /** Whether the operation needs credentials (`security` not emptied). */
  secured: boolean;
}

/** Every operation of openapi.yaml, with a path one can request. */
export async function specOperations(): Promise<SpecOperation[]> {
  const contract = await loadContract();
  const globalSecurity = (contract.definition as { security?: unknown[] }).security ?? [];
  return contract.getOperations().map((operation) => ({
    operationId: operation.operationId!,
    method: operation.method.toUpperCase(),
    path: operation.path.replace(/\{[^}]+\}/g, '1'),
    secured: (operation.security ?? globalSecurity).length > 0,
  }));
}
