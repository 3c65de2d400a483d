// Test hooks of the administrator page (/admin) that headless Chromium tests
// drive: window.__pleaAdmin. Implemented in src/pages/AdminPage.vue.

interface PleaAdminTestHooks {
  /** The people list has been loaded from the server. */
  loaded(): boolean;
  /** The role and scope lists the page got from the server (GET /api/admin/catalogue). */
  roles(): string[];
  scopes(): string[];
}

interface Window {
  __pleaAdmin?: PleaAdminTestHooks;
}
