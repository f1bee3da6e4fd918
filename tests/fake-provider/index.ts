/**
 * The fake provider server for tests; see server.ts.
 *
 * @example
 * import { startFakeProvider } from "../fake-provider/index.ts";
 */
export {
  type FakeProvider,
  type FakeReply,
  type FakeUsage,
  type Protocol,
  type RecordedRequest,
  startFakeProvider,
  TEST_KEYS,
} from "./server.ts";
