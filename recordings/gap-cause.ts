// Why a recording was interrupted: one typed value per cause, the only place
// the list is declared. Other modules (note, manifest, clerk page) switch on
// these values; they never compare free text.

export const GAP_CAUSES = [
  /** The server's ffmpeg recorder of a track exited unexpectedly; it is restarted. */
  'recorder_crashed',
  /** The mediasoup worker carrying the session died; the session is reopened. */
  'worker_died',
  /** The server process stopped or crashed while the booking was live. */
  'server_restarted',
  /** The room agent lost its connection to the server. */
  'agent_disconnected',
  /** A party was not present (left, not yet rejoined, or not publishing). */
  'party_absent',
  /** Free disk space fell below the configured reserve. */
  'disk_reserve',
  /** An evidence video segment could not be uploaded from the room PC. */
  'upload_failed',
] as const;

export type GapCause = (typeof GAP_CAUSES)[number];

export function isGapCause(value: unknown): value is GapCause {
  return typeof value === 'string' && (GAP_CAUSES as readonly string[]).includes(value);
}

/**
 * Whether a gap of this cause is an interruption of the recording itself (a
 * failure the note must explain), as opposed to a party simply not being there.
 */
export function isInterruption(cause: GapCause): boolean {
  switch (cause) {
    case 'party_absent':
      return false;
    case 'recorder_crashed':
    case 'worker_died':
    case 'server_restarted':
    case 'agent_disconnected':
    case 'disk_reserve':
    case 'upload_failed':
      return true;
  }
}

/** Chinese and English wording of each cause, for the note and the pages. */
export const GAP_CAUSE_TEXT: Readonly<Record<GapCause, { zh: string; en: string }>> = {
  recorder_crashed: { zh: '录制进程异常退出，已自动重启', en: 'recorder process exited unexpectedly and was restarted' },
  worker_died: { zh: '媒体进程异常退出，会话已重新建立', en: 'media worker died; the session was reopened' },
  server_restarted: { zh: '服务器重启', en: 'server restarted' },
  agent_disconnected: { zh: '讯问室终端与服务器断开连接', en: 'room agent disconnected from the server' },
  party_absent: { zh: '该方不在场或未发送音视频', en: 'party not present or not sending media' },
  disk_reserve: { zh: '磁盘剩余空间低于保留值', en: 'free disk space below the reserve' },
  upload_failed: { zh: '证据视频分段上传失败', en: 'evidence video segment upload failed' },
};
