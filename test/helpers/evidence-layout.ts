// Where the analyser looks in a 1024x576 evidence video: each party's inset
// (from the compositor's own layout) and the burned-in clock's seconds.
import { insetRect } from '../../room-agent/evidence/compositor.js';
import { evidenceLayout } from '../../room-agent/evidence/evidence-recorder.js';
import type { Region } from '../../recordings/sync-analyser.js';

export const EVIDENCE_W = 1024;
export const EVIDENCE_H = 576;

/** A slot's inset in pixels. */
export const insetPixels = (slot: number) => insetRect({ width: EVIDENCE_W, insetWidth: evidenceLayout.insetWidth, insetHeight: evidenceLayout.insetHeight }, slot);

/** A slot's inset, less its label and a border (fractions of the picture). */
export function insetRegion(slot: number): Region {
  const r = insetPixels(slot);
  return { x: (r.x + 16) / EVIDENCE_W, y: (r.y + 10) / EVIDENCE_H, w: (r.w - 32) / EVIDENCE_W, h: (r.h * 0.6) / EVIDENCE_H };
}

/** The burned-in clock's minutes and seconds (top left), inside its box: clear of the flashing picture around it. */
export const clockRegion: Region = { x: 200 / EVIDENCE_W, y: 10 / EVIDENCE_H, w: 82 / EVIDENCE_W, h: 26 / EVIDENCE_H };
