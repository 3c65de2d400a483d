// three-way session: a room agent (the real program, synthetic camera and
// microphone) and two headless Chromium pages (prosecutor and lawyer, fake
// devices) meet through mediasoup. Each page decodes video and receives audio
// packets and non-concealed samples from both other parties; the agent's consumers carry RTP from both browser
// parties. Then the agent is killed and restarted: the session recovers
// without a page reload.
import type { ChildProcess } from 'node:child_process';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitFor } from './helpers/server.js';
import { agentProcess } from './helpers/agent.js';
import { launchBrowser, openSessionPage } from './helpers/browser.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
const ROOM = 'interrogation-1';
let server: Server;
let browser: Browser;
let agent: ChildProcess | null = null;
const pages: Record<'prosecutor' | 'lawyer', Page | null> = { prosecutor: null, lawyer: null };

beforeAll(async () => {
  server = await startTestServer({ rooms: 1 });
  browser = await launchBrowser();
});
afterAll(async () => {
  // SIGTERM: the agent stops its ffmpeg children itself (a SIGKILL would orphan them).
  if (agent && agent.exitCode === null) {
    const exited = new Promise((r) => agent!.once('exit', r));
    agent.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  }
  await browser?.close();
  await server?.cleanup();
});

type Row = Awaited<ReturnType<NonNullable<Window['__pleaSession']>['remoteStats']>>[number];

async function remoteStats(page: Page): Promise<Row[]> {
  return page.evaluate(() => window.__pleaSession!.remoteStats());
}

interface Received {
  /** Video frames decoded. */
  frames: number;
  /** Audio RTP packets received. */
  audioPackets: number;
  /**
   * Audio samples played from real packets: totalSamplesReceived counts every
   * 10 ms playout tick, concealment included, so it rises even when nothing
   * arrives; concealedSamples are those the jitter buffer made up.
   */
  heard: number;
}

/** Per remote role: video frames decoded, audio packets and non-concealed audio samples received. */
async function byRole(page: Page): Promise<Record<string, Received>> {
  const out: Record<string, Received> = {};
  for (const r of await remoteStats(page)) {
    const o = (out[r.role] ??= { frames: 0, audioPackets: 0, heard: 0 });
    o.frames += r.framesDecoded;
    if (r.kind === 'audio') {
      o.audioPackets += r.packetsReceived;
      o.heard += r.totalSamplesReceived - r.concealedSamples;
    }
  }
  return out;
}

/** Waits until `page` receives real audio from `role` (packets and non-concealed samples), then checks both still rise. */
async function expectAudioFlowing(page: Page, role: string, what: string, since: Received): Promise<void> {
  const first = await waitFor(`${what}: audio from ${role}`, async () => {
    const s = (await byRole(page))[role];
    return s && s.audioPackets > since.audioPackets + 10 ? s : null;
  }, 20_000);
  await new Promise((r) => setTimeout(r, 1500));
  const later = (await byRole(page))[role]!;
  expect(later.audioPackets, `${what}: audio packets from ${role} rise`).toBeGreaterThan(first.audioPackets + 25);
  // 1.5 s of 48 kHz audio is 72 000 samples; half of it, at least, played from packets.
  expect(later.heard - first.heard, `${what}: non-concealed samples from ${role} rise`).toBeGreaterThan(36_000);
}

function roomParty() {
  return server.registry.forRoom(ROOM)?.partyList().find((p) => p.role === 'room');
}

/** Packets the room party's consumers sent (to the agent), per source role. */
async function agentConsumerPackets(): Promise<Record<string, number>> {
  const session = server.registry.forRoom(ROOM);
  const party = roomParty();
  const out: Record<string, number> = {};
  if (!session || !party) return out;
  for (const consumer of party.consumerList()) {
    const from = session.party(String(consumer.appData['partyId']))?.role ?? 'gone';
    const stats = await consumer.getStats();
    out[from] = (out[from] ?? 0) + stats.filter((s) => s.type === 'outbound-rtp').reduce((n, s) => n + s.packetCount, 0);
  }
  return out;
}

describe('three-way session', () => {
  it('joins the room, the prosecutor and the lawyer, each seeing and hearing both others', async () => {
    agent = agentProcess(server, ROOM);
    await waitFor('room agent publishing', () => (roomParty()?.producerEntries().length ?? 0) === 2, 30_000);
    const now = Date.now();
    for (const role of ['prosecutor', 'lawyer'] as const) {
      const token = server.tokens.issue({ roomId: ROOM, role, bookingId: null, nbf: now - 1000, exp: now + 600_000 });
      pages[role] = await openSessionPage(browser, `${server.url}/session?token=${token}`);
    }
    const [p, l] = [pages.prosecutor!, pages.lawyer!];
    const expected = { prosecutor: ['room', 'lawyer'], lawyer: ['room', 'prosecutor'] };

    // Each page: video frames decoded, and audio packets and non-concealed
    // samples, from both other parties, rising over time.
    for (const [role, page] of [['prosecutor', p], ['lawyer', l]] as const) {
      const first = await waitFor(`${role} receiving both parties`, async () => {
        const s = await byRole(page);
        return expected[role].every((r) => (s[r]?.frames ?? 0) > 5 && (s[r]?.audioPackets ?? 0) > 50 && (s[r]?.heard ?? 0) > 4800) ? s : null;
      }, 40_000);
      await new Promise((r) => setTimeout(r, 2000));
      const later = await byRole(page);
      for (const r of expected[role]) {
        expect(later[r]!.frames, `${role} decodes ${r} video`).toBeGreaterThan(first[r]!.frames);
        expect(later[r]!.audioPackets, `${role} receives ${r} audio packets`).toBeGreaterThan(first[r]!.audioPackets + 25);
        // 2 s of 48 kHz audio is 96 000 samples; at least half played from real packets.
        expect(later[r]!.heard - first[r]!.heard, `${role} hears ${r} (non-concealed samples)`).toBeGreaterThan(48_000);
      }
    }

    // mediasoup: the agent's consumers receive RTP from both browser parties.
    const a1 = await waitFor('agent consumers carrying both browser parties', async () => {
      const s = await agentConsumerPackets();
      return (s['prosecutor'] ?? 0) > 50 && (s['lawyer'] ?? 0) > 50 ? s : null;
    }, 30_000);
    await new Promise((r) => setTimeout(r, 1500));
    const a2 = await agentConsumerPackets();
    expect(a2['prosecutor']).toBeGreaterThan(a1['prosecutor']!);
    expect(a2['lawyer']).toBeGreaterThan(a1['lawyer']!);
    expect(roomParty()?.consumerList()).toHaveLength(4);
  });

  it('recovers without a page reload when the room agent is killed and restarted', async () => {
    const [p, l] = [pages.prosecutor!, pages.lawyer!];
    const oldRoomProducers = roomParty()!.producerEntries().map((e) => e.producer.id);
    agent!.kill('SIGKILL');
    await waitFor('room party gone', () => !roomParty(), 20_000);
    agent = agentProcess(server, ROOM);
    await waitFor('new room party publishing', () => {
      const ids = roomParty()?.producerEntries().map((e) => e.producer.id) ?? [];
      return ids.length === 2 && ids.every((id) => !oldRoomProducers.includes(id));
    }, 30_000);
    for (const page of [p, l]) {
      const newIds = roomParty()!.producerEntries().map((e) => e.producer.id);
      const fresh = await waitFor('page decoding the new room producers', async () => {
        const rows = (await remoteStats(page)).filter((r) => newIds.includes(r.producerId));
        const video = rows.find((r) => r.kind === 'video');
        const audio = rows.find((r) => r.kind === 'audio');
        return video && audio && video.framesDecoded > 5 && audio.packetsReceived > 50 && audio.totalSamplesReceived - audio.concealedSamples > 4800 ? rows : null;
      }, 40_000);
      expect(fresh).toHaveLength(2);
      const state = await page.evaluate(() => window.__pleaSession!.state());
      // Same page, same join: no reload, no rejoin was needed.
      expect(state.joins).toBe(1);
      expect(state.socket).toBe('connected');
    }
    await waitFor('new agent consuming both browser parties', async () => {
      const s = await agentConsumerPackets();
      return (s['prosecutor'] ?? 0) > 50 && (s['lawyer'] ?? 0) > 50;
    }, 30_000);
  });

  it('mutes and unmutes: the producer pauses in mediasoup and the other page shows it', async () => {
    const [p, l] = [pages.prosecutor!, pages.lawyer!];
    const session = server.registry.forRoom(ROOM)!;
    const prosecutorMic = () => session.partyList().find((x) => x.role === 'prosecutor')?.producerEntries().find((e) => e.source === 'microphone')?.producer;
    expect(prosecutorMic()?.paused).toBe(false);
    await p.getByTestId('mute-button').click();
    await waitFor('prosecutor microphone paused', () => prosecutorMic()?.paused === true);
    await l.locator('[data-testid="remote-tile"][data-role="prosecutor"] [data-testid="muted-badge"]').waitFor({ timeout: 10_000 });
    // Muted: no audio packets from the prosecutor reach the lawyer (a few in flight at most).
    await new Promise((r) => setTimeout(r, 500));
    const muted1 = (await byRole(l))['prosecutor']!;
    await new Promise((r) => setTimeout(r, 1500));
    const muted2 = (await byRole(l))['prosecutor']!;
    expect(muted2.audioPackets - muted1.audioPackets, 'no prosecutor audio while muted').toBeLessThanOrEqual(3);
    await p.getByTestId('mute-button').click();
    await waitFor('prosecutor microphone resumed', () => prosecutorMic()?.paused === false);
    await l.locator('[data-testid="remote-tile"][data-role="prosecutor"] [data-testid="muted-badge"]').waitFor({ state: 'detached', timeout: 10_000 });
    // Unmuted: audio from the prosecutor flows again, packets and real samples.
    await expectAudioFlowing(l, 'prosecutor', 'lawyer after unmute', muted2);
  });
});
