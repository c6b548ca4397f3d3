/** What a signed-in caller may do: a viewer reads, an operator reads and changes everything. */
export const roles = ['viewer', 'operator'] as const;
export type Role = (typeof roles)[number];

export const isRole = (value: unknown): value is Role => roles.includes(value as Role);

/** Who is calling and how they proved it; the API puts one on every authenticated request. */
export interface Principal {
  name: string;
  role: Role;
  via: 'session' | 'token' | 'api-key' | 'disabled';
}
