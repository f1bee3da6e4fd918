/**
 * ArkType in jitless mode, set before any schema module loads (entry points import this file
 * first; ES modules evaluate in import order). Compiling validators with `new Function` makes each
 * validation ~1 us faster but costs ~110 ms at start-up across our schemas and arktype's own
 * keywords; requests validate a body once, while every restart and every CLI command pays the start-up.
 *
 * @example
 * import "./arktype-config.ts"; // first line of an entry point
 */
import { configure } from "arktype/config";

configure({ jitless: true });
