// The roles people hold and the scopes machine clients' API tokens carry.
// Imported by the server and (types only) by the browser and the room agent, so
// it depends on nothing but TypeBox.
import Type, { type Static } from 'typebox';

export const Role = Type.Union([
  Type.Literal('prosecutor'),
  Type.Literal('duty_lawyer'),
  Type.Literal('defence_lawyer'),
  Type.Literal('detention_staff'),
  Type.Literal('evidence_clerk'),
  Type.Literal('office'),
  Type.Literal('auditor'),
  Type.Literal('administrator'),
]);
export type Role = Static<typeof Role>;
export const allRoles: readonly Role[] = [
  'prosecutor',
  'duty_lawyer',
  'defence_lawyer',
  'detention_staff',
  'evidence_clerk',
  'office',
  'auditor',
  'administrator',
];

/**
 * What an API token may do. A route names the scopes that admit a token; a token
 * never passes a route that names none.
 */
export const Scope = Type.Union([
  Type.Literal('schedule:read'),
  Type.Literal('bookings:write'),
  Type.Literal('site:read'),
  Type.Literal('audit:read'),
  Type.Literal('evidence:read'),
]);
export type Scope = Static<typeof Scope>;
export const allScopes: readonly Scope[] = ['schedule:read', 'bookings:write', 'site:read', 'audit:read', 'evidence:read'];
