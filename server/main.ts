// The server program. `server/main.ts` runs the site as configured (no demo);
// `server/main.ts --demo` (what `npm start` runs) is the embedded demo: demo
// config (loopback only unless PLEA_HOST or PLEA_CONFIG say otherwise, synthetic
// room agents), demo accounts for every role (one-time passwords printed once,
// changed at the first sign-in) and a day of bookings around the current time.
import { loadConfig, ConfigError } from './config.js';
import { startServer } from './app.js';

const demo = process.argv.slice(2).includes('--demo');

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig({ demo });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const server = await startServer(config);
  // Demo code is loaded only in demo mode: a production start never imports it.
  const agents: Array<{ stop(): Promise<void> }> = [];
  let demoText = '';
  if (demo) {
    const { seedDemoAccounts, demoCast } = await import('./demo-accounts.js');
    const { seedDemoDay, ensureDemoLive } = await import('./demo-schedule.js');
    const accounts = await seedDemoAccounts(server.accounts, server.departments);
    const day = await seedDemoDay(server.schedule, demoCast);
    if (day) server.log.info(day, 'demo: planned a day on the schedule');
    // A later start: the demo prosecutor gets a live booking again if none is joinable now.
    const live = day ? null : await ensureDemoLive(server.schedule, demoCast).catch((err: unknown) => {
      server.log.warn({ err }, 'demo: no live booking now');
      return null;
    });
    if (live) server.log.info({ bookingId: live }, 'demo: a live booking for prosecutor1 and dutylawyer1');
    const fresh = accounts.filter((a) => a.temporaryPassword);
    const lines = accounts.map((a) => `    ${a.username.padEnd(16)} ${(a.temporaryPassword ?? '(password printed at the first start)').padEnd(36)} ${a.roles.join(', ')} · ${a.displayName}`);
    demoText =
      `\n  Demo accounts${fresh.length ? ' (one-time passwords, shown only now; each is changed at the first sign-in)' : ''}:\n${lines.join('\n')}\n` +
      (fresh.length ? '' : '  Lost a password? Sign in as admin and reset it on /admin.\n') +
      `\n  Try a three-way session: sign in at ${server.url}/login as prosecutor1, open "My sessions" on the home page and join the live one;\n` +
      `  in another browser (or a private window) sign in as dutylawyer1 and join the same booking. The room's synthetic agent is already in it.\n` +
      `  prosecutor2 heads the first department: on the home page they may let prosecutor3 stand in for prosecutor1 (the live booking then shows for prosecutor3).\n`;
  }
  if (config.demo.syntheticAgents) {
    const { startDemoAgents } = await import('./demo-agents.js');
    agents.push(...startDemoAgents(server));
  }
  server.log.info({ url: server.url, rooms: config.site.rooms.length, syntheticAgents: agents.length, demo }, 'room controller ready');
  console.log(`\n  Room controller ready: ${server.url}/${demo ? '  (embedded demo)' : ''}`);
  if (demoText) console.log(demoText);
  console.log(`  Staff board: ${server.url}/staff (staff sign in with their own accounts)\n`);
  // No administrator yet: a one-time link to create the first one (its secret is printed once, stored hashed).
  const setup = server.accounts.setupLink();
  if (setup) console.log(`  First administrator: open ${server.url}/setup#token=${setup}\n  (one-time link, valid 24 hours)\n`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await Promise.all(agents.map((a) => a.stop()));
    await server.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
