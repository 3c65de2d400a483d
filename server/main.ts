// The server program: `npm start`.
import { loadConfig, ConfigError } from './config.js';
import { startServer } from './app.js';
import { startDemoAgents } from './demo-agents.js';
import { seedDemoDay } from './demo-schedule.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const server = await startServer(config);
  const agents = config.demo.syntheticAgents ? startDemoAgents(server) : [];
  if (config.demo.standingSessions) {
    const seeded = seedDemoDay(server.schedule);
    if (seeded) server.log.info(seeded, 'demo: planned a sample day on the staff board');
  }
  server.log.info({ url: server.url, rooms: config.site.rooms.length, syntheticAgents: agents.length }, 'room controller ready');
  const [staffId] = Object.keys(server.secrets.staffKeys);
  console.log(`\n  Room controller ready: ${server.url}/\n  Open it, pick a room, and open its prosecutor and lawyer links.`);
  // No key is printed: staff keys stay in the owner-only secrets file.
  console.log(`  Staff board (${staffId}): ${server.url}/staff (its key is in ${config.dataDir}/secrets.json, readable by this account only)\n`);
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
