// Test hooks of the evidence clerk page (/evidence) that headless Chromium tests
// drive: window.__pleaEvidence. Implemented in src/pages/EvidencePage.vue.

interface PleaEvidenceTestHooks {
  /** Booking ids of the recordings listed now. */
  bookingIds(): string[];
  /** Completed fetches of the list. */
  readonly loads: number;
}

interface Window {
  __pleaEvidence?: PleaEvidenceTestHooks;
}
