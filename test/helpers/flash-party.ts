// A remote party's camera and microphone that flash and beep on whole seconds
// of a given clock (Date.now() + clockOffsetMs), like the room's
// beep-and-flash source: a canvas drawn on the clock's frame grid and a tone
// written in 10 ms chunks as the clock reaches them, handed to
// the session page in place of getUserMedia's devices. The page's own publishing code (mediasoup-client,
// its encodings) is untouched, so what reaches the room agent has taken the
// real path: capture, encoder, WebRTC, mediasoup, the agent's player.
import type { BrowserContext } from 'playwright-core';

export interface FlashSourceSpec {
  /** Added to the page's Date.now() to give the clock whose whole seconds it flashes on. */
  clockOffsetMs: number;
  /** This party's beep pitch (the room's is 1000 Hz), so its sound can be told apart in the mix. */
  beepHz: number;
  /** Delays this party's flashes and beeps (a mutation: a party that is late at the source). */
  lateMs?: number;
}

/** Chromium options for several flashing pages at once: none may have its timers throttled as a background window. */
export const flashSourceBrowserArgs = ['--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'];

interface PageSpec extends FlashSourceSpec {
  fps: number;
  flashMs: number;
  beepMs: number;
}

/** Replaces the page's camera and microphone by the flashing source (before any page script runs). */
export async function useFlashSource(context: BrowserContext, spec: FlashSourceSpec): Promise<void> {
  // Run by tsx (the benchmarks), the function below is compiled with esbuild's keepNames: its
  // inner functions are wrapped in __name(), which the page must have.
  await context.addInitScript({ content: 'globalThis.__name ??= (f) => f;' });
  await context.addInitScript((s: PageSpec) => {
    const shift = s.clockOffsetMs - (s.lateMs ?? 0);
    const period = 1000 / s.fps;
    const stats = { frames: 0, bright: 0, audioChunks: 0 };
    (window as unknown as { __flashSource: typeof stats }).__flashSource = stats;
    let made: { video: MediaStreamTrack; audio: MediaStreamTrack } | null = null;
    type Generator = MediaStreamTrack & { writable: WritableStream<AudioData> };
    const Gen = (window as unknown as { MediaStreamTrackGenerator: new (o: { kind: 'audio' | 'video' }) => Generator }).MediaStreamTrackGenerator;
    // The sound is a generated track (MediaStreamTrackGenerator) written as
    // the clock reaches each chunk: it does not wait on an audio device's clock.
    const make = (): { video: MediaStreamTrack; audio: MediaStreamTrack } => {
      if (made) return made;
      const canvas = document.createElement('canvas');
      canvas.width = 640;
      canvas.height = 480;
      const g = canvas.getContext('2d')!;
      // A captured canvas (frames from generated VideoFrames reach the far end discoloured, white as grey-brown).
      const video = canvas.captureStream(0).getVideoTracks()[0] as CanvasCaptureMediaStreamTrack;
      let n = 0;
      // A frame on every whole frame period of the clock: the first bright frame is the one at the second.
      const draw = (): void => {
        const now = Date.now() + shift;
        const slot = Math.round(now / period) * period;
        const bright = ((slot % 1000) + 1000) % 1000 < s.flashMs - 1;
        g.fillStyle = bright ? '#ffffff' : '#283038';
        g.fillRect(0, 0, canvas.width, canvas.height);
        g.fillStyle = bright ? '#c0c0c0' : '#80c0ff';
        g.fillRect(8 + (n++ % 50) * 2, canvas.height - 14, 6, 6);
        video.requestFrame();
        stats.frames++;
        if (bright) stats.bright++;
        const next = Math.floor((Date.now() + shift) / period + 1) * period;
        setTimeout(draw, Math.max(1, next - (Date.now() + shift)));
      };
      draw();
      // Sound in 10 ms chunks, each handed over when the clock reaches its start: a beep of beepMs from every whole second.
      const audio = new Gen({ kind: 'audio' });
      const aw = audio.writable.getWriter();
      const rate = 48000;
      const chunk = rate / 100;
      let nextChunkMs = Math.ceil((Date.now() + shift) / 10) * 10;
      const sound = (): void => {
        const clockNow = Date.now() + shift;
        // Behind by more than 100 ms (a stalled page): start again from now rather than burst.
        if (clockNow - nextChunkMs > 100) nextChunkMs = Math.floor(clockNow / 10) * 10;
        while (nextChunkMs <= clockNow) {
          const data = new Float32Array(chunk);
          for (let i = 0; i < chunk; i++) {
            const tMs = nextChunkMs + (i * 1000) / rate;
            const inSecond = ((tMs % 1000) + 1000) % 1000;
            data[i] = inSecond < s.beepMs ? 0.15 * Math.sin((2 * Math.PI * s.beepHz * inSecond) / 1000) : 0;
          }
          void aw.write(new AudioData({ format: 'f32', sampleRate: rate, numberOfFrames: chunk, numberOfChannels: 1, timestamp: Math.round(performance.now() * 1000), data }));
          stats.audioChunks++;
          nextChunkMs += 10;
        }
        setTimeout(sound, Math.max(1, nextChunkMs - (Date.now() + shift)));
      };
      sound();
      made = { video, audio };
      return made;
    };
    const md = navigator.mediaDevices;
    md.getUserMedia = async (c?: MediaStreamConstraints): Promise<MediaStream> => {
      const t = make();
      const out = new MediaStream();
      if (c?.video) out.addTrack(t.video.clone());
      if (c?.audio) out.addTrack(t.audio.clone());
      return out;
    };
  }, { ...spec, fps: 25, flashMs: 200, beepMs: 100 } satisfies PageSpec);
}
