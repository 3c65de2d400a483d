// Messages of guest links and of the window-ending banner, English. Same shape as guest.zh-CN.ts.
import type { GuestMessages } from './guest.zh-CN';

const guestEn: GuestMessages = {
  guest: {
    panel: {
      title: 'Guest links',
      open: 'Guest links',
      none: 'No guest links',
      role: { defence_lawyer: 'Defence lawyer (no account)', bail_suspect: 'Suspect on bail' },
      state: { issued: 'Issued, not yet used', bound: 'In use on one device', locked: 'Locked (too many wrong codes)', revoked: 'Revoked', expired: 'No longer valid' },
      live: 'In the session',
      issue: 'Issue link',
      guestName: 'Guest name (as booked)',
      revoke: 'Revoke',
      revokeTitle: 'Revoke guest link',
      revokeConfirm: 'The link stops working at once; a guest in the session is removed at once. Revoke it?',
      issuedTitle: 'Link issued (shown only this once)',
      issuedHint: 'Send the link to the guest and tell them the code separately (e.g. by phone), never with the link.',
      link: 'Link',
      code: 'Code',
      copy: 'Copy',
      copied: 'Copied',
      validity: 'Valid {from} – {until}',
      issuedBy: 'Issued by {who} at {at}',
      revokedBy: 'Revoked by {who} at {at}',
      device: 'Bound device address {address}',
      wrongCodes: '{n} wrong codes',
      cannotIssue: '{role}: {why}',
      failed: 'Failed: {detail}',
      loadFailed: 'Cannot read the guest links: {detail}',
      done: 'Done',
    },
    page: {
      title: 'Join as a guest',
      intro: 'Enter the code the prosecutor told you separately. This link works on one device only; wrong codes lock it.',
      code: 'Code',
      submit: 'Confirm',
      join: 'Enter the session',
      bound: 'This device holds the link.',
      who: '{name} · {role}',
      window: 'Session window {from} – {until}',
      notYet: 'You cannot enter yet: {why}',
      noLink: 'The link is incomplete: open the whole link the prosecutor sent you.',
      errors: {
        wrong_code: 'Wrong code ({detail})',
        locked: 'This link is locked after too many wrong codes: ask the prosecutor for a new one.',
        in_use: 'This link is in use on another device.',
        revoked: 'This link has been revoked.',
        expired: "This link's session is over.",
        not_found: 'The link is not valid.',
        other: 'Cannot check: {detail}',
      },
    },
  },
  windowEnding: {
    reasons: { revoked: 'Your guest link was revoked: you have been removed from the session.', removed: 'Your session window ended: you have been removed from the session.', replaced: 'You joined this session from another page or device.' },
    title: 'The session window has ended: you will be removed at {time}',
    countdown: '{left} left',
    hint: 'Please finish what you are doing; to extend, ask the detention-centre staff.',
  },
};

export default guestEn;
