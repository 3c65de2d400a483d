// Demo accounts for the embedded demo (`npm start`, server/main.ts --demo), never
// in production: the organisations of a small site (this procuratorate and two
// of its departments, the city procuratorate, a law office, the legal-aid
// office, the detention centre) and one or more people for each role. Each is
// made through the real account service: a random one-time password, shown
// once (the caller prints it), that must be changed at the first sign-in.
import type { Accounts } from './access/accounts.js';
import type { Organisation } from './access/account-store.js';
import type { Role } from './access/roles.js';
import type { DepartmentAllowances } from './access/department-allowances.js';

/** The head of the first department (who may let prosecutor3 stand in for prosecutor1). */
export const demoDepartmentHead = { departmentId: 'site-dept-1', userId: 'demo-prosecutor-2' } as const;

export const demoOrganisations: readonly Organisation[] = [
  { id: 'site', name: '本院', nameEn: 'This procuratorate', kind: 'procuratorate', parentId: null },
  { id: 'site-dept-1', name: '第一检察部', nameEn: 'First prosecution department', kind: 'department', parentId: 'site' },
  { id: 'site-dept-2', name: '第二检察部', nameEn: 'Second prosecution department', kind: 'department', parentId: 'site' },
  { id: 'city', name: '市人民检察院', nameEn: 'City procuratorate', kind: 'higher_procuratorate', parentId: null },
  { id: 'law-office', name: '明法律师事务所', nameEn: 'Mingfa law office', kind: 'law_office', parentId: null },
  { id: 'legal-aid', name: '区法律援助中心', nameEn: 'District legal-aid office', kind: 'legal_aid_office', parentId: null },
  { id: 'detention', name: '区看守所', nameEn: 'District detention centre', kind: 'detention_centre', parentId: null },
];

export interface DemoPerson {
  id: string;
  username: string;
  displayName: string;
  organisationId: string;
  roles: Role[];
}

/** Ids are what bookings name (prosecutorId, lawyerId): the join rules compare them with the account. */
export const demoPeople: readonly DemoPerson[] = [
  { id: 'demo-prosecutor-1', username: 'prosecutor1', displayName: '检察官 王明', organisationId: 'site-dept-1', roles: ['prosecutor'] },
  { id: 'demo-prosecutor-2', username: 'prosecutor2', displayName: '检察官 李娜', organisationId: 'site-dept-1', roles: ['prosecutor'] },
  { id: 'demo-prosecutor-3', username: 'prosecutor3', displayName: '检察官 赵强', organisationId: 'site-dept-1', roles: ['prosecutor'] },
  { id: 'demo-prosecutor-4', username: 'prosecutor4', displayName: '检察官 钱进', organisationId: 'site-dept-2', roles: ['prosecutor'] },
  { id: 'demo-duty-lawyer-1', username: 'dutylawyer1', displayName: '值班律师 陈静', organisationId: 'legal-aid', roles: ['duty_lawyer'] },
  { id: 'demo-duty-lawyer-2', username: 'dutylawyer2', displayName: '值班律师 刘洋', organisationId: 'legal-aid', roles: ['duty_lawyer'] },
  { id: 'demo-defence-lawyer-1', username: 'defencelawyer1', displayName: '辩护律师 孙伟', organisationId: 'law-office', roles: ['defence_lawyer'] },
  { id: 'demo-staff-1', username: 'staff1', displayName: '看守所民警 周平', organisationId: 'detention', roles: ['detention_staff'] },
  { id: 'demo-clerk-1', username: 'clerk1', displayName: '证据管理员 吴芳', organisationId: 'site', roles: ['evidence_clerk'] },
  { id: 'demo-office-1', username: 'office1', displayName: '办公室 郑丽', organisationId: 'site', roles: ['office'] },
  { id: 'demo-auditor-1', username: 'auditor1', displayName: '审计员 冯刚', organisationId: 'site', roles: ['auditor'] },
  { id: 'demo-admin', username: 'admin', displayName: '系统管理员', organisationId: 'site', roles: ['administrator'] },
];

export interface SeededAccount {
  username: string;
  displayName: string;
  roles: Role[];
  /** Set only when the account was created now: shown once, never stored as given. */
  temporaryPassword: string | null;
}

/**
 * Creates what is missing (organisations, accounts) and reports every demo
 * account; an account that already existed keeps its password (null here).
 */
export async function seedDemoAccounts(accounts: Accounts, departments: DepartmentAllowances | null = null, actor = 'demo'): Promise<SeededAccount[]> {
  for (const o of demoOrganisations) if (!accounts.store.organisation(o.id)) accounts.addOrganisation(o, actor);
  const out: SeededAccount[] = [];
  for (const p of demoPeople) {
    const existing = accounts.store.userByName(p.username);
    if (existing) {
      out.push({ username: p.username, displayName: existing.displayName, roles: existing.roles, temporaryPassword: null });
      continue;
    }
    // No password given: the account service makes a random one-time password and sets mustChangePassword.
    const made = await accounts.createUser({ id: p.id, username: p.username, displayName: p.displayName, organisationId: p.organisationId, roles: p.roles }, actor);
    out.push({ username: p.username, displayName: p.displayName, roles: p.roles, temporaryPassword: made.temporaryPassword });
  }
  if (departments && !departments.head(demoDepartmentHead.departmentId)) departments.appointHead(demoDepartmentHead.departmentId, demoDepartmentHead.userId, actor);
  return out;
}

/** Who the demo day's bookings name. */
export const demoCast = {
  prosecutors: demoPeople.filter((p) => p.roles.includes('prosecutor')).map((p) => p.id),
  dutyLawyers: demoPeople.filter((p) => p.roles.includes('duty_lawyer')).map((p) => p.id),
  defenceLawyers: demoPeople.filter((p) => p.roles.includes('defence_lawyer')).map((p) => p.id),
} as const;
