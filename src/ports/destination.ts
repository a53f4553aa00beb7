// A delivery mode is one declarative object the run executor drives without knowing whom it talks to
// (docs/design.md, "Destinations as definitions"): the identifier kinds it accepts, its batch limit and unit,
// its request budget, an optional "ensure audience" step, sending one batch with an outcome per item, a
// connection test, and the remedy text for each kind of failure.
import type { Identifier, IdentifierKind } from '../domain/identifiers.ts';
import type { DeliveryMode } from '../domain/model.ts';
import type { RequestBudget, RequestLane } from './limiter.ts';

export type { DeliveryMode } from '../domain/model.ts';

/** The API fields that carry a target's secret, one per delivery mode. */
export type TargetSecretField = 'dataImportKey' | 'restApiKey';
export type { RequestBudget } from './limiter.ts';

export interface DestinationTarget {
  /** REST endpoint of the customer's instance, e.g. https://rest.iad-01.braze.com */
  readonly endpoint: string;
  /** The target's secret (the mode's key), decrypted just for the call. */
  readonly secret: string;
}

/**
 * What a batch is delivered into: a stable id and display name (a named audience), or an attribute name and
 * value written on each profile (`value` null: one boolean attribute per audience).
 */
export interface Audience {
  readonly id: string;
  readonly name: string;
  readonly createdAt: string;
  readonly attribute: { readonly name: string; readonly value: string | null } | null;
}

export interface MembershipChange {
  readonly add: readonly Identifier[];
  readonly remove: readonly Identifier[];
}

/** Per item of a batch, in order: the adds, then the removes. */
export type ItemOutcome = { readonly status: 'sent' } | { readonly status: 'failed'; readonly reason: string };

export interface CallStats {
  /** HTTP requests made, including retries. */
  readonly requests: number;
  readonly retries: number;
}

export interface BatchResult extends CallStats {
  readonly outcomes: readonly ItemOutcome[];
}

/** One HTTP exchange, for the per-run request log. Keys are already redacted. */
export interface RequestLogEntry {
  readonly at: string;
  readonly endpoint: string;
  readonly identifiers: number;
  readonly status: number | null;
  readonly latencyMs: number;
  readonly attempt: number;
  readonly request: unknown;
  readonly response: unknown;
}

export interface CallOptions {
  readonly onRequest?: (entry: RequestLogEntry) => void;
  readonly signal?: AbortSignal;
  /** Real-time runs ask the limiter on the real-time lane (its reserved headroom); default bulk. */
  readonly lane?: RequestLane;
}

/** The target a failure mail is about, for the remedy text. */
export interface RemedyContext {
  readonly projectId: string;
  readonly targetId: string;
  readonly targetName: string;
  readonly endpoint?: string | undefined;
}

export interface DestinationDefinition {
  readonly mode: DeliveryMode;
  /** Whom the mode delivers to, as people read it ("Braze target …" in mails). */
  readonly product: string;
  /** The target's secret as the API names and describes it (e.g. `dataImportKey`, "the Data Import Key"). */
  readonly secret: { readonly field: TargetSecretField; readonly label: string };
  /**
   * What a batch goes into: a named audience (made by ensureAudience), or an attribute written on each profile,
   * whose name and style the target settles and whose value (or name) each sync chooses.
   */
  readonly audience: 'named' | 'attribute';
  /**
   * Whether the mode's name is part of its targets' workspace key. False only where keys were issued before
   * delivery modes existed and must not change (the syncs would lose what Braze acknowledged).
   */
  readonly workspaceKeyNamesMode: boolean;
  /** The endpoints its targets may name (the operator can allow more: the sandbox, BRAZE_ALLOWED_ENDPOINTS). */
  readonly endpoints: DestinationEndpoints;
  /** Identifier kinds the destination can address a user by; mappings reaching others are refused. */
  readonly accepts: readonly IdentifierKind[];
  /** Why a kind it does not accept is refused, for the 422 a person reads. */
  readonly refusal: (kind: IdentifierKind) => string;
  /** Largest batch, counted in identifiers or in users (one object per user). */
  readonly batch: { readonly max: number; readonly unit: 'identifiers' | 'users' };
  /** Request budget per budget key (operator-configurable), and which key of a target it is counted on. */
  readonly budget: RequestBudget;
  budgetKey(target: DestinationTarget): string;
  /** Whether `sent` means "matched a profile" (the destination says so) or only "sent" (it never says). */
  readonly reportsMatches: boolean;
  /** Creates or renames the audience before the first batch; absent when nothing needs creating. */
  ensureAudience?(target: DestinationTarget, audience: Audience, opts?: CallOptions): Promise<CallStats>;
  /** Sends one batch; resolves once the destination acknowledged it, with one outcome per item. */
  sendBatch(
    target: DestinationTarget,
    audience: Audience,
    change: MembershipChange,
    opts?: CallOptions,
  ): Promise<BatchResult>;
  /** Checks a key without changing any profile; never throws for a rejected key. */
  testConnection(target: DestinationTarget): Promise<{ ok: boolean; message: string }>;
  /** Why an identifier does or does not put the user in the audience (explain), for a user identified as
   * `userId` (null: anonymous). */
  explainRule(id: Identifier, userId: string | null): string;
  /** The filter a person builds in the destination's segment builder to use the audience, in words. */
  segmentFilter(audience: Audience): string;
  /** The run error code for a failure kind (what the UI, mails and webhooks show). */
  failureCode(kind: Exclude<DeliveryErrorKind, 'aborted'>): string;
  /**
   * What a person can do about a run that failed with one of the codes failureCode gives (failure mails),
   * step by step; undefined for codes it does not give (the app words those: a deleted target, say).
   */
  remedy(code: string, about: RemedyContext): string | undefined;
}

/** Where a destination's instances are: the service only ever calls those and what the operator allowed. */
export interface DestinationEndpoints {
  /** The form endpoints are compared and stored in. */
  normalise(endpoint: string): string;
  /** Whether a normalised endpoint is one of the destination's own instances. */
  isInstance(normalised: string): boolean;
  /** What a valid endpoint looks like, for the 400 a person reads. */
  readonly description: string;
}

export interface DestinationRegistry {
  /** The definition of a delivery mode; throws for a mode the service was not built with. */
  get(mode: DeliveryMode): DestinationDefinition;
  readonly modes: readonly DeliveryMode[];
  /** Whom the modes deliver to, for texts about a sync whose target (and so its mode) is gone. */
  readonly product: string;
}

/**
 * Errors carry the retry decision (docs/design.md). The destination adapter retries what it can by itself;
 * what reaches the executor is final for this attempt.
 */
export type DeliveryErrorKind =
  | 'bad_request' // 400/404/413: our bug or bad data; fail the batch
  | 'credentials' // 401/403: fail the run; a person must fix the key or instance
  | 'retries_exhausted' // 423/429/5xx/network faults outlasted the retry policy
  | 'aborted'; // the caller stopped (lease lost, shutdown)

export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(
    readonly kind: DeliveryErrorKind,
    message: string,
    readonly status: number | null = null,
    readonly stats: CallStats = { requests: 0, retries: 0 },
  ) {
    super(message);
  }
}

/** A registry over a fixed list of definitions, one per mode. */
export function registryOf(definitions: readonly DestinationDefinition[]): DestinationRegistry {
  const byMode = new Map(definitions.map((d) => [d.mode, d]));
  return {
    modes: [...byMode.keys()],
    product: [...new Set(definitions.map((d) => d.product))].join(' / '),
    get(mode) {
      const definition = byMode.get(mode);
      if (!definition) throw new Error(`no destination definition for delivery mode ${JSON.stringify(mode)}`);
      return definition;
    },
  };
}
