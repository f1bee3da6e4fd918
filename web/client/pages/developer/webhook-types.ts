/**
 * What the webhook routes answer (GET /api/webhooks..., the shapes of the server's OpenAPI). A
 * delivery's state is shown with StatusBadge (ui.tsx).
 *
 * @example const deliveries = useApi<{ deliveries: Delivery[] }>(`/api/webhooks/${id}/deliveries`);
 */

/** The event types an endpoint can take (schemas/webhooks.ts WEBHOOK_EVENT_TYPES). */
export const EVENT_TYPES = ["debate_start", "consensus", "agent_error", "debate_end", "receipt_generated"] as const;

export interface Webhook {
  id: string;
  url: string;
  event_types: string[];
  description: string;
  enabled: boolean;
  disabled_reason: string | null;
  previous_secret_expires_at: string | null;
  created_at: string;
  circuit_breaker?: { state: "closed" | "half_open" | "open"; failures: number } | null;
}

export interface WebhookWithSecret extends Webhook {
  secret: string;
}

export type DeliveryState = "PENDING" | "IN_PROGRESS" | "RETRYING" | "DELIVERED" | "DEAD_LETTERED";

export interface Attempt {
  attempt: number;
  at: string;
  status: number | null;
  error: string | null;
  latency_ms: number;
  response_body: string | null;
}

export interface Delivery {
  delivery_id: string;
  webhook_id: string;
  event_type: string;
  state: DeliveryState;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
  created_at: string;
  updated_at: string;
  history?: Attempt[];
}
