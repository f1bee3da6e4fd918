/**
 * `aragora cleanup`: the runbook's storage cleanup of the data dir (old backups beyond the newest
 * few, sessions, checkpoints, artifacts, orphaned -wal/-shm files), with the runbook's flags.
 * The rules live in ops/cleanup and are shared with the cleanup.prune playbook action.
 *
 * @example
 * aragora cleanup --dry-run                       # always run first: what would go, how much it frees
 * aragora cleanup --backup-days 14 --session-days 3 --checkpoint-days 7 --yes
 * aragora cleanup --archive-to /backups/nomic_archive --yes
 * aragora cleanup --analyze-only
 */
import { resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import { type Command, EXIT, UsageError } from "../../runtime/command.ts";
import { analyzeDataDir, formatAnalysis, formatPlan, formatResult } from "./analyze.ts";
import { applyCleanup } from "./apply.ts";
import { type CleanupPolicy, DEFAULT_POLICY, planCleanup } from "./plan.ts";

const NUMBER_FLAGS: Record<string, keyof CleanupPolicy> = {
  "backup-days": "backupDays",
  "backup-keep": "backupKeep",
  "session-days": "sessionDays",
  "test-session-days": "testSessionDays",
  "checkpoint-days": "checkpointDays",
  "artifact-days": "artifactDays",
};

/** The policy the flags ask for; a malformed number is a usage error naming the flag. */
export function policyFromFlags(values: Record<string, unknown>): CleanupPolicy {
  const policy = { ...DEFAULT_POLICY };
  for (const [flag, key] of Object.entries(NUMBER_FLAGS)) {
    const raw = values[flag];
    if (raw === undefined) continue;
    if (typeof raw !== "string" || !/^\d+$/.test(raw)) {
      throw new UsageError(`--${flag} must be a non-negative integer (was ${JSON.stringify(raw)})`);
    }
    policy[key] = Number(raw);
  }
  return policy;
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export const cleanupCommand: Command = {
  name: "cleanup",
  summary: "remove old backups, sessions, checkpoints, artifacts and orphaned -wal/-shm files from the data dir",
  usage: "aragora cleanup [--dry-run] [--yes] [--backup-days N] [--session-days N] [--archive-to DIR] [--analyze-only]",
  options: {
    "dry-run": { type: "boolean", description: "print what would be removed and the space it frees; change nothing" },
    yes: { type: "boolean", short: "y", description: "do not ask for confirmation (cron, scripts)" },
    "backup-days": {
      type: "string",
      description: `remove backups older than N days (default ${DEFAULT_POLICY.backupDays})`,
    },
    "backup-keep": {
      type: "string",
      description: `always keep the N newest backups (default ${DEFAULT_POLICY.backupKeep})`,
    },
    "session-days": {
      type: "string",
      description: `session retention in days (default ${DEFAULT_POLICY.sessionDays})`,
    },
    "test-session-days": {
      type: "string",
      description: `test session retention in days (default ${DEFAULT_POLICY.testSessionDays})`,
    },
    "checkpoint-days": {
      type: "string",
      description: `checkpoint retention in days (default ${DEFAULT_POLICY.checkpointDays})`,
    },
    "artifact-days": {
      type: "string",
      description: `artifact retention in days (default ${DEFAULT_POLICY.artifactDays})`,
    },
    "archive-to": { type: "string", description: "archive what is removed into DIR (one tar.gz) before deleting" },
    "analyze-only": { type: "boolean", description: "show storage use per part of the data dir; remove nothing" },
    json: { type: "boolean", description: "print machine-readable JSON on stdout" },
  },
  details: [
    "What it manages (under $ARAGORA_DATA_DIR):",
    "  backups/      archives from db.backup and other backups: the newest --backup-keep stay, older ones go after --backup-days",
    "  sessions/     session telemetry; entries named test-* or test_* use --test-session-days",
    "  checkpoints/  debate state checkpoints       artifacts/  timestamped debug artifacts",
    "  *-wal, *-shm  removed at once when their database file is gone",
    "Never removed: the runbook's essential databases (core.db, memory.db, agents.db, debates.db, agent_elo.db,",
    "agent_memories.db, agent_calibration.db, consensus_memory.db, continuum.db, continuum_memory.db, users.db,",
    "usage.db, scheduled_debates.db), any database with a -wal/-shm beside it (live), incidents/, server.json.",
    "Without --yes on a terminal it asks before removing; without a terminal it refuses (exit 2).",
  ].join("\n"),
  async run({ values, positionals, config }) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const policy = policyFromFlags(values);
    const cfg = config();
    const dataDir = resolve(cfg.dataDir);
    const json = values.json === true;
    const out = (text: string) => process.stdout.write(text);

    if (values["analyze-only"] === true) {
      const report = analyzeDataDir(dataDir);
      out(json ? `${JSON.stringify(report)}\n` : formatAnalysis(report));
      return EXIT.ok;
    }
    const plan = planCleanup(dataDir, policy, new Date());
    const dryRun = values["dry-run"] === true;
    if (dryRun || plan.candidates.length === 0) {
      out(json ? `${JSON.stringify({ dry_run: dryRun, plan })}\n` : formatPlan(plan, true));
      return EXIT.ok;
    }
    if (values.yes !== true) {
      if (!process.stdin.isTTY) {
        process.stderr.write(
          "aragora cleanup: refusing to remove files without confirmation; pass --yes (or --dry-run to preview)\n",
        );
        return EXIT.usage;
      }
      process.stderr.write(formatPlan(plan, true));
      if (!(await confirm("remove these? [y/N] "))) {
        process.stderr.write("nothing removed\n");
        return EXIT.ok;
      }
    }
    const archiveTo = typeof values["archive-to"] === "string" ? resolve(values["archive-to"]) : undefined;
    try {
      const result = await applyCleanup(plan, archiveTo === undefined ? {} : { archiveTo });
      if (json) out(`${JSON.stringify({ dry_run: false, plan, result })}\n`);
      else out(formatPlan(plan, false) + formatResult(result));
      return EXIT.ok;
    } catch (err) {
      process.stderr.write(`aragora cleanup: ${(err as Error).message}\n`);
      return EXIT.failure;
    }
  },
};
