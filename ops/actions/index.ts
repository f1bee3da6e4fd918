/**
 * Every step action by name. Add an action with one import and one entry in {@link ACTION_LIST}.
 *
 * @example
 * const action = ACTIONS.get("sleep");
 * await action?.run({ duration: 100 }, ctx);
 */
import type { ActionDefinition } from "../action.ts";
import { approveAction } from "./approve.ts";
import { assertAction } from "./assert.ts";
import { authRevokeIssued } from "./auth-revoke-issued.ts";
import { cleanupPrune } from "./cleanup-prune.ts";
import { dbBackup } from "./db-backup.ts";
import { dbAnalyze, dbCheckpoint, dbIntegrityCheck, dbVacuum } from "./db-maintenance.ts";
import { dbRestore } from "./db-restore.ts";
import { debateRun } from "./debate-run.ts";
import { debatesVerify } from "./debates-verify.ts";
import { httpRequestAction } from "./http-request.ts";
import { incidentRecord } from "./incident-record.ts";
import { keysAdd } from "./keys-add.ts";
import { keysAwaitNodes } from "./keys-await-nodes.ts";
import { keysEncryptExisting } from "./keys-encrypt-existing.ts";
import { keysResealBackups } from "./keys-reseal-backups.ts";
import { keysRetire } from "./keys-retire.ts";
import { keysVerify } from "./keys-verify.ts";
import { migrateApply, migrateRollback, migrateStatus } from "./migrate.ts";
import { shellAction } from "./shell.ts";
import { sleepAction } from "./sleep.ts";
import { waitAction } from "./wait.ts";

// biome-ignore lint/suspicious/noExplicitAny: the registry holds actions of every input and output type
export type AnyAction = ActionDefinition<any, any>;

export const ACTION_LIST: AnyAction[] = [
  approveAction,
  assertAction,
  httpRequestAction,
  shellAction,
  sleepAction,
  dbCheckpoint,
  dbAnalyze,
  dbVacuum,
  dbIntegrityCheck,
  dbBackup,
  dbRestore,
  migrateStatus,
  migrateApply,
  migrateRollback,
  cleanupPrune,
  incidentRecord,
  debateRun,
  debatesVerify,
  keysEncryptExisting,
  keysVerify,
  keysAdd,
  keysAwaitNodes,
  keysResealBackups,
  keysRetire,
  waitAction,
  authRevokeIssued,
];

export const ACTIONS: ReadonlyMap<string, AnyAction> = new Map(ACTION_LIST.map((a) => [a.name, a]));
