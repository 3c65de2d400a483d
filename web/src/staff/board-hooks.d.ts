// Test hooks of the staff day board (/staff) that headless Chromium tests
// drive: window.__pleaBoard. Implemented in src/pages/StaffPage.vue.

interface PleaBoardTestHooks {
  /** Ids of the booking blocks rendered on the day board right now (from the DOM). */
  bookingIds(): string[];
  /** Completed fetches of the day (the board has rendered each before this counts up). */
  readonly loads: number;
  /** The date shown, YYYY-MM-DD ('' before the first fetch). */
  readonly date: string;
}

interface Window {
  __pleaBoard?: PleaBoardTestHooks;
}
