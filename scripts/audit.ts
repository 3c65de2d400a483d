// npm run audit -- verify [--full] [--json]
// Verifies the keyed audit chain of the data directory (PLEA_DATA_DIR or the
// config's dataDir) from the last verified checkpoint, against the last signed
// head exported to audit-heads.jsonl, and names the first bad entry.
// Exit code: 0 intact, 1 broken, 2 usage or set-up error.
import path from 'node:path';
import { existsSync } from 'node:fs';
import { loadConfig } from '../server/config.js';
import { openDatabase } from '../server/db/database.js';
import { AuditTrail } from '../server/audit/audit-trail.js';
import { auditKeysOf, loadSecrets } from '../server/access/secrets.js';

const usage = `usage: npm run audit -- verify [--full] [--json]
  verify   check the audit trail from the last verified checkpoint (--full: from the first entry)`;

function main(): number {
  const args = process.argv.slice(2);
  const command = args.find((a) => !a.startsWith('--'));
  if (command !== 'verify') {
    console.error(usage);
    return 2;
  }
  const full = args.includes('--full');
  const json = args.includes('--json');
  const config = loadConfig();
  const dbFile = path.join(config.dataDir, 'plea.sqlite');
  if (!existsSync(dbFile) || !existsSync(path.join(config.dataDir, 'secrets.json'))) {
    console.error(`no database or secrets in ${config.dataDir}`);
    return 2;
  }
  const secrets = loadSecrets(config);
  const db = openDatabase(dbFile);
  try {
    const audit = new AuditTrail(db, { keys: auditKeysOf(secrets), headFile: path.join(config.dataDir, 'audit-heads.jsonl') });
    const started = Date.now();
    const result = audit.verifyNow(full);
    const seconds = (Date.now() - started) / 1000;
    if (json) console.log(JSON.stringify({ ...result, seconds }));
    else {
      const span = result.from ? `entries ${result.from + 1} to ${result.lastSeq} (from the checkpoint at ${result.from})` : `entries 1 to ${result.lastSeq}`;
      if (result.intact) console.log(`audit trail intact: checked ${result.checked} ${span} in ${seconds.toFixed(2)} s${result.head ? `; reaches the head exported at ${result.head.at} (entry ${result.head.seq})` : '; no exported head yet'}`);
      else console.log(`audit trail BROKEN at entry ${result.brokenAt}: ${result.problem?.why}`);
      if (result.warning) console.log(`warning: ${result.warning}`);
    }
    return result.intact ? 0 : 1;
  } finally {
    db.close();
  }
}

process.exitCode = main();
