/**
 * What a store is given to encrypt its secret fields: the field cipher (field-cipher.ts) bound to
 * the keys of the moment (they change when the key file is re-read) and counted in the encryption
 * metrics under the store's name. Stores seal before they write and open after they read; nothing
 * else in a store touches keys.
 *
 * With no key configured (production without `ARAGORA_ENCRYPTION_KEY`), `seal` stores the plaintext
 * as it is, which `aragora keys verify` then counts as plaintext; `open` reads plaintext either way
 * (records written before encryption was turned on) and names the key a sealed value needs.
 *
 * @example
 * const sealer = fieldSealer(() => ring);
 * const stored = sealer.seal("mfa_totp", secret, { table: "mfa_totp", id: userId, field: "secret" });
 * sealer.open("mfa_totp", stored, { table: "mfa_totp", id: userId, field: "secret" }) === secret;
 */
import { metrics } from "../metrics.ts";
import type { KeyRing } from "./encryption-keys.ts";
import {
  EnvelopeFormatError,
  type FieldRef,
  isSealedText,
  KeyNotFoundError,
  openText,
  sealText,
  TamperedFieldError,
} from "./field-cipher.ts";

export interface FieldSealer {
  /** The keys of the moment; undefined when encryption is not configured. */
  ring(): KeyRing | undefined;
  /** The stored form of `plaintext` for the field `ref` of `store`: sealed with the active key (plaintext with none). */
  seal(store: string, plaintext: string, ref: FieldRef): string;
  /**
   * The plaintext of a stored value: decrypted when sealed, as stored when plaintext. Throws
   * KeyNotFoundError (naming the key id), TamperedFieldError or EnvelopeFormatError.
   */
  open(store: string, stored: string, ref: FieldRef): string;
}

/** The error type label of an encryption failure. */
export function encryptionErrorType(err: unknown): string {
  if (err instanceof KeyNotFoundError) return "key_not_found";
  if (err instanceof TamperedFieldError) return "tampered";
  if (err instanceof EnvelopeFormatError) return "malformed";
  return "other";
}

/**
 * A {@link FieldSealer} over `ring`, read on every call so a reloaded key list takes effect at once.
 *
 * @example const sealer = fieldSealer(() => keys.current());
 */
export function fieldSealer(ring: () => KeyRing | undefined): FieldSealer {
  const encryptLatency = metrics.encryptionLatency.labels("encrypt");
  const decryptLatency = metrics.encryptionLatency.labels("decrypt");
  const tallies = new Map<string, { n: number }>();
  const count = (operation: "encrypt" | "decrypt", store: string) => {
    const key = `${operation}\u0000${store}`;
    let tally = tallies.get(key);
    if (tally === undefined) {
      tally = metrics.encryptionOperations.tally({ operation, store });
      tallies.set(key, tally);
    }
    tally.n++;
  };
  return {
    ring,
    seal(store, plaintext, ref) {
      const keys = ring();
      if (keys === undefined) {
        // Stored as it is, a value that looks like an envelope would later be read as one (and
        // counted as encrypted data with no key): refused, whatever the store checked before.
        if (isSealedText(plaintext)) {
          metrics.encryptionErrors.inc({ operation: "encrypt", error_type: "malformed" });
          throw new EnvelopeFormatError(
            `${ref.table}.${ref.field} of ${ref.id}: a value that looks like an encrypted envelope cannot be stored unencrypted`,
            ref,
          );
        }
        return plaintext;
      }
      const start = performance.now();
      try {
        const sealed = sealText(keys, plaintext, ref);
        count("encrypt", store);
        return sealed;
      } catch (err) {
        metrics.encryptionErrors.inc({ operation: "encrypt", error_type: encryptionErrorType(err) });
        throw err;
      } finally {
        encryptLatency.observe((performance.now() - start) / 1000);
      }
    },
    open(store, stored, ref) {
      const start = performance.now();
      try {
        const plaintext = openText(ring(), stored, ref);
        if (plaintext !== stored) count("decrypt", store);
        return plaintext;
      } catch (err) {
        metrics.encryptionErrors.inc({ operation: "decrypt", error_type: encryptionErrorType(err) });
        throw err;
      } finally {
        decryptLatency.observe((performance.now() - start) / 1000);
      }
    },
  };
}
