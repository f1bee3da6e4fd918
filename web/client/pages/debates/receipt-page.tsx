/**
 * A debate's decision receipt (`/debates/:id/receipt`), downloaded and verified in the browser
 * against the server's public key (receipt-verify.ts), with the receipt and the debate's exports
 * to download; and any receipt file the person has (`/debates/verify`, and below the debate's
 * own), checked the same way. Nothing is sent to the server to be checked: the browser does it.
 */
import "./history.css";
import { useEffect, useId, useState } from "preact/hooks";
import { api } from "../../api.ts";
import { when } from "../../format.ts";
import type { PageProps } from "../../route.ts";
import { Loading, messageOf, Notice, useApi } from "../../ui.tsx";
import { EXPORT_FORMATS } from "./export-formats.ts";
import { ReceiptVerdict } from "./receipt-verdict.tsx";
import { type PublicKey, type VerifyResult, verifyReceipt } from "./receipt-verify.ts";

interface Checked {
  result: VerifyResult;
  receipt: Record<string, unknown> | undefined;
}

/** What a receipt's body says, for the summary list (values are shown only when they have the expected type). */
function summaryOf(receipt: Record<string, unknown> | undefined) {
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  const outcome = receipt?.outcome as { status?: unknown; stop_reason?: unknown } | undefined;
  const consensus = receipt?.consensus as { reached?: unknown; answer?: unknown } | null | undefined;
  const chain = receipt?.hash_chain as { head?: unknown } | undefined;
  return {
    question: str(receipt?.question),
    issued: str(receipt?.issued_at),
    status: str(outcome?.status),
    answer: consensus && typeof consensus.answer === "string" ? consensus.answer : undefined,
    reached: consensus ? consensus.reached === true : undefined,
    head: str(chain?.head),
  };
}

/** Parse and verify a receipt's text; a text that is not JSON is a verdict too. */
async function checkText(text: string, key: PublicKey): Promise<Checked> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return {
      result: { ok: false, problems: [`not JSON: ${(err as Error).message}`], events: 0, debateId: undefined },
      receipt: undefined,
    };
  }
  return checkDoc(doc, key);
}

/** Verify a parsed receipt document (the checks read values, as `aragora receipt verify` does). */
async function checkDoc(doc: unknown, key: PublicKey): Promise<Checked> {
  const receipt = (doc as { receipt?: unknown } | null)?.receipt;
  return {
    result: await verifyReceipt(doc, key),
    receipt: typeof receipt === "object" && receipt !== null ? (receipt as Record<string, unknown>) : undefined,
  };
}

function ReceiptSummary({ receipt }: { receipt: Record<string, unknown> | undefined }) {
  const s = summaryOf(receipt);
  return (
    <dl class="receipt-summary">
      <dt>Question</dt>
      <dd>{s.question ?? "—"}</dd>
      <dt>Outcome</dt>
      <dd>{s.status ?? "—"}</dd>
      <dt>Decision</dt>
      <dd>{s.answer ? `${s.answer}${s.reached ? "" : " (no consensus)"}` : "none"}</dd>
      <dt>Issued</dt>
      <dd>{when(s.issued)}</dd>
      <dt>Chain head</dt>
      <dd>
        <code class="hash">{s.head ?? "—"}</code>
      </dd>
    </dl>
  );
}

/** The debate's own receipt: fetched as the text the server signed, then verified here. */
function DebateReceipt({ id, publicKey }: { id: string; publicKey: PublicKey }) {
  const [checked, setChecked] = useState<Checked>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    const abort = new AbortController();
    api
      .get<unknown>(`/api/debates/${encodeURIComponent(id)}/receipt`, abort.signal)
      .then(async (doc) => setChecked(await checkDoc(doc, publicKey)))
      .catch((err: Error) => {
        if (err.name !== "AbortError") setError(messageOf(err));
      });
    return () => abort.abort();
  }, [id, publicKey]);
  const base = `/api/debates/${encodeURIComponent(id)}`;
  return (
    <section aria-labelledby="own-receipt">
      <h2 id="own-receipt">This debate's receipt</h2>
      {!checked && !error && <Loading label="Downloading and verifying the receipt…" />}
      {error && <Notice kind="error">{error}</Notice>}
      {checked && (
        <>
          <ReceiptVerdict result={checked.result} keyId={publicKey.key_id} />
          <ReceiptSummary receipt={checked.receipt} />
        </>
      )}
      <p class="downloads">
        <a class="button button-secondary" href={`${base}/receipt`} download={`${id}-receipt.json`}>
          Download the receipt
        </a>
      </p>
      <p class="downloads">
        <span>Download the debate:</span>
        {EXPORT_FORMATS.map((f) => (
          <a key={f.format} href={`${base}/export?format=${f.format}`} download={`${id}.${f.format}`}>
            {f.label}
          </a>
        ))}
      </p>
    </section>
  );
}

/** A receipt file from the person's computer, verified against the same key. */
function UploadedReceipt({ publicKey }: { publicKey: PublicKey }) {
  const id = useId();
  const [checked, setChecked] = useState<Checked & { name: string }>();
  const [busy, setBusy] = useState(false);
  const onFile = async (e: Event) => {
    const file = (e.currentTarget as HTMLInputElement).files?.[0];
    if (!file) return;
    setBusy(true);
    setChecked(undefined);
    try {
      setChecked({ ...(await checkText(await file.text(), publicKey)), name: file.name });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="upload-receipt">
      <h2 id="upload-receipt">Check a receipt file</h2>
      <div class="field">
        <label for={id}>Receipt file (JSON)</label>
        <input id={id} type="file" accept="application/json,.json" onChange={onFile} aria-describedby={`${id}-hint`} />
        <p class="hint" id={`${id}-hint`}>
          The file stays in your browser: it is checked here against this server's public key.
        </p>
      </div>
      {busy && <Loading label="Verifying…" />}
      {checked && (
        <div class="uploaded-verdict">
          <p class="muted">{checked.name}</p>
          <ReceiptVerdict result={checked.result} keyId={publicKey.key_id} />
          {checked.receipt && <ReceiptSummary receipt={checked.receipt} />}
        </div>
      )}
    </section>
  );
}

export default function ReceiptPage({ params }: PageProps) {
  const key = useApi<PublicKey>("/api/receipts/public-key");
  const [publicKey, setPublicKey] = useState<PublicKey>();
  // One object for the page's life: the debate's receipt is not fetched again on each render.
  useEffect(() => setPublicKey(key.data), [key.data]);
  const id = params.id;
  const noCrypto = typeof crypto === "undefined" || crypto.subtle === undefined;
  return (
    <section class="receipt-page">
      <h1>{id ? "Decision receipt" : "Verify a receipt"}</h1>
      <p class="muted">
        <a href="/debates">All debates</a>
        {id && (
          <>
            {" · "}debate <code>{id}</code>
          </>
        )}
      </p>
      {noCrypto && (
        <Notice kind="error">
          This browser cannot verify receipts here: WebCrypto needs a secure connection (HTTPS or localhost).
        </Notice>
      )}
      {key.loading && <Loading label="Loading the server's public key…" />}
      {key.error && <Notice kind="error">{messageOf(key.error)}</Notice>}
      {publicKey && !noCrypto && (
        <>
          {id && <DebateReceipt id={id} publicKey={publicKey} />}
          <UploadedReceipt publicKey={publicKey} />
          <p class="muted key-line">
            Server key {publicKey.key_id} (Ed25519). <a href="/api/receipts/public-key">Public key</a>
          </p>
        </>
      )}
    </section>
  );
}
