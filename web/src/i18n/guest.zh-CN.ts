// Messages of guest links (the links panel of a booking, the guest's page) and of
// the session page's window-ending banner, Chinese (default). guest.en.ts has the
// same shape (checked by the compiler).
const guestZhCN = {
  guest: {
    panel: {
      title: '来宾链接',
      open: '来宾链接',
      none: '暂无来宾链接',
      role: { defence_lawyer: '辩护律师（无账户）', bail_suspect: '取保候审人' },
      state: { issued: '已发出，尚未启用', bound: '已在一台设备上启用', locked: '已锁定（验证码错误过多）', revoked: '已撤销', expired: '已失效' },
      live: '在会话中',
      issue: '发出链接',
      guestName: '来宾姓名（与预约一致）',
      revoke: '撤销',
      revokeTitle: '撤销来宾链接',
      revokeConfirm: '撤销后该链接立即失效；来宾若在会话中，将被立即移出。确定撤销？',
      issuedTitle: '链接已生成（仅显示这一次）',
      issuedHint: '请把链接发给来宾，验证码另行告知（例如电话），不要与链接一同发送。',
      link: '链接',
      code: '验证码',
      copy: '复制',
      copied: '已复制',
      validity: '有效时段 {from} – {until}',
      issuedBy: '{who} 于 {at} 发出',
      revokedBy: '{who} 于 {at} 撤销',
      device: '绑定设备地址 {address}',
      wrongCodes: '验证码错误 {n} 次',
      cannotIssue: '{role}：{why}',
      failed: '操作失败：{detail}',
      loadFailed: '无法读取来宾链接：{detail}',
      done: '已完成',
    },
    page: {
      title: '来宾加入会话',
      intro: '请输入检察官另行告知您的验证码。此链接只能在一台设备上使用，多次输错将被锁定。',
      code: '验证码',
      submit: '确认',
      join: '进入会话',
      bound: '本设备已启用此链接。',
      who: '{name} · {role}',
      window: '会话时段 {from} – {until}',
      notYet: '现在还不能进入：{why}',
      noLink: '链接不完整：请打开检察官发给您的完整链接。',
      errors: {
        wrong_code: '验证码错误（{detail}）',
        locked: '此链接因验证码错误过多已被锁定，请联系检察官重新发出。',
        in_use: '此链接已在另一台设备上使用。',
        revoked: '此链接已被撤销。',
        expired: '此链接对应的会话已结束。',
        not_found: '链接无效。',
        other: '无法验证：{detail}',
      },
    },
  },
  windowEnding: {
    reasons: { revoked: '您的来宾链接已被撤销，已移出会话。', removed: '本方的会话时段已结束，已移出会话。', replaced: '您已在另一页面或设备上加入此会话。' },
    title: '会话时段已结束：将于 {time} 被移出会话',
    countdown: '剩余 {left}',
    hint: '请尽快完成当前事项；如需延长，请联系看守所工作人员。',
  },
};

export default guestZhCN;
export type GuestMessages = typeof guestZhCN;
