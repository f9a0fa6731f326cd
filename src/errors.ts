// One registry of error codes. A code is stable: tests, clients and operators
// match on it; the message is for people and may change. `status` is the reply
// status a code maps to on the wire (docs/PROTOCOL.md §2) and `http` its HTTP
// status code.

export type ReplyStatus = 'ERROR' | 'REJECTED';

interface CodeInfo {
  status: ReplyStatus;
  http: number;
  what: string;
}

export const ERROR_CODES = {
  E_CONFIG: { status: 'ERROR', http: 400, what: 'a configuration value is missing, of the wrong type or out of range' },
  E_UNKNOWN_MESSAGE: { status: 'ERROR', http: 400, what: 'a request that is neither a command (string `type`) nor a cycle (object `state`)' },
  E_BAD_STATE: { status: 'ERROR', http: 400, what: 'a cycle whose `state` is not an object' },
  E_BAD_CYCLE: { status: 'ERROR', http: 400, what: 'a cycle field of the wrong type (agent_id, state_version, intent_taken, result)' },
  E_MODEL_SHAPE: { status: 'REJECTED', http: 409, what: 'a model shape (architecture, dimensions, intents, hidden width) that is invalid or does not fit the schema' },
  E_MODEL_WEIGHTS: { status: 'REJECTED', http: 409, what: 'model weights of the wrong length or with a non-finite value' },
  E_MODEL_FILE: { status: 'ERROR', http: 400, what: 'a model file that cannot be decoded, or whose SHA-256 does not match its contents' },
  E_KERNEL_LOAD: { status: 'ERROR', http: 500, what: 'the WASM kernel could not be loaded or instantiated' },
  E_KERNEL_ARGS: { status: 'ERROR', http: 500, what: 'an argument to the kernel out of range (buffer length, pointer, intent index)' },
  E_POOL_CLOSED: { status: 'REJECTED', http: 409, what: 'the kernel pool is closed' },
  E_DISK: { status: 'REJECTED', http: 503, what: 'a write to the data directory failed (disk full, I/O error): the system is read-only until it is fixed' },
  E_DATA_DIR_LOCKED: { status: 'ERROR', http: 500, what: 'another shadowpath process holds the data directory' },
  E_DATA_CORRUPT: { status: 'ERROR', http: 500, what: 'a file of the data directory cannot be read back (control state, registry)' },
  E_UNKNOWN_COMMAND: { status: 'ERROR', http: 400, what: 'a command `type` that does not exist' },
  E_BAD_COMMAND: { status: 'ERROR', http: 400, what: 'a command parameter that is missing, of the wrong type or out of range' },
  E_AUTH: { status: 'REJECTED', http: 403, what: 'a missing or wrong credential, an unknown operator, or a role without the right to this command' },
  E_LOCKDOWN: { status: 'REJECTED', http: 409, what: 'a management command during an emergency lockdown' },
  E_READ_ONLY: { status: 'REJECTED', http: 409, what: 'a mutation while the data directory is read-only (READ_ONLY_DISK)' },
  E_DUPLICATE_VERSION: { status: 'REJECTED', http: 409, what: 'REGISTER_MODEL of a version that already exists' },
  E_BAD_VERSION: { status: 'REJECTED', http: 409, what: 'a version id that is not 1-64 of [A-Za-z0-9._-] starting with a letter or digit' },
  E_UNKNOWN_MODEL: { status: 'REJECTED', http: 409, what: 'a version that is not registered' },
  E_NO_CANDIDATE: { status: 'REJECTED', http: 409, what: 'a command that needs a candidate when none is set' },
  E_ALREADY_PRODUCTION: { status: 'REJECTED', http: 409, what: 'SET_CANDIDATE_MODEL of the version that is in production' },
  E_CANARY_CAP: { status: 'REJECTED', http: 409, what: 'a canary ratio above the safety cap without bypass_safety_cap: true' },
  E_GATE: { status: 'REJECTED', http: 409, what: 'PROMOTE_CANDIDATE refused by the promotion gate; the reply carries the failing figures' },
  E_NO_ROLLBACK_TARGET: { status: 'REJECTED', http: 409, what: 'ROLLBACK_MODEL with an empty rollback stack' },
  E_WATCH_ACTIVE: { status: 'REJECTED', http: 409, what: 'SET_CANDIDATE_MODEL during a post-promotion watch (END_WATCH ends it early)' },
  E_NO_WATCH: { status: 'REJECTED', http: 409, what: 'END_WATCH while no post-promotion watch is running' },
  E_NOT_LOCKED: { status: 'REJECTED', http: 409, what: 'UNRELEASE_LOCKDOWN while no lockdown is active' },
  E_ALREADY_NORMAL: { status: 'REJECTED', http: 409, what: 'RESET_FAILURE_STATUS while the failure mode is already NORMAL' },
  E_TOKEN_UNKNOWN: { status: 'REJECTED', http: 409, what: 'a confirmation token that was never issued (or was issued before a restart)' },
  E_TOKEN_USED: { status: 'REJECTED', http: 409, what: 'a confirmation token used a second time' },
  E_TOKEN_EXPIRED: { status: 'REJECTED', http: 409, what: 'a confirmation token past its expiry' },
  E_TOKEN_TYPE: { status: 'REJECTED', http: 409, what: 'a confirmation token issued for another command type' },
  E_TOKEN_PARAMS: { status: 'REJECTED', http: 409, what: 'a confirmation token issued for other parameters' },
  E_TOKEN_OPERATOR: { status: 'REJECTED', http: 409, what: 'a confirmation token issued to another operator' },
  E_TOKEN_SAME_OPERATOR: { status: 'REJECTED', http: 409, what: 'two-person rule: the confirming operator must differ from the requesting one' },
  E_TOKEN_STATE: { status: 'REJECTED', http: 409, what: 'the control state changed since the confirmation token was issued' },
  E_INTERNAL: { status: 'ERROR', http: 500, what: 'an unexpected internal error (a bug): the message says where' },
  E_TOO_LARGE: { status: 'ERROR', http: 413, what: 'a request (line, frame or body) over the size limit (default 1 MiB); a stream is closed after the reply' },
  E_TOO_DEEP: { status: 'ERROR', http: 400, what: 'a request nested deeper than the limit (default 32)' },
  E_BAD_JSON: { status: 'ERROR', http: 400, what: 'a request that is not valid JSON (or not UTF-8); a stream is closed after the reply' },
  E_BAD_MSGPACK: { status: 'ERROR', http: 400, what: 'a binary frame that is not one valid MessagePack object; the stream is closed after the reply' },
  E_NOT_FOUND: { status: 'ERROR', http: 404, what: 'an HTTP path or method the server does not serve' },
  E_TOO_MANY_CONNECTIONS: { status: 'REJECTED', http: 503, what: 'the connection limit is reached; the new connection is closed after this reply' },
  E_SHUTTING_DOWN: { status: 'REJECTED', http: 503, what: 'the server is shutting down and takes no new requests' },
  E_FLOOD: { status: 'REJECTED', http: 429, what: 'the cycle rate is over the configured limit (max_cycles_per_s): the cycle was shed' },
  E_OVERLOADED: { status: 'REJECTED', http: 409, what: 'the engine queue is full; the cycle was shed' },
  E_UNSUPPORTED_MEDIA_TYPE: { status: 'ERROR', http: 415, what: 'an HTTP request body that is not application/json or application/msgpack (a browser sends text/plain and forms cross-site without asking): nothing ran' },
  E_ORIGIN: { status: 'REJECTED', http: 403, what: 'an HTTP request from a web page of another origin (Origin or Sec-Fetch-Site header): nothing ran' },
  E_HOST: { status: 'REJECTED', http: 421, what: 'an HTTP Host header that is not a loopback name, the listen address or an --allowed-host (DNS rebinding): nothing ran' },
  E_AUTH_THROTTLED: { status: 'REJECTED', http: 429, what: 'too many failed authentications for this operator from this peer, or from this peer address: wait and retry; the credential was not checked' },
  E_MODEL_LAYOUT: { status: 'REJECTED', http: 409, what: 'a model whose layout (feature order, scaling, intents) differs from the running schema: REGISTER_MODEL with metadata.layout, or SET_CANDIDATE_MODEL, PROMOTE_CANDIDATE, ROLLBACK_MODEL of a stored model; the message names the first difference' },
  // Raised by the client library (src/client), never sent by the server.
  E_CONNECTION_LOST: { status: 'ERROR', http: 503, what: 'client: the connection was lost before the reply (the request may or may not have been applied; it is not re-sent), or could not be made' },
  E_REQUEST_TIMEOUT: { status: 'ERROR', http: 504, what: 'client: no reply within requestTimeoutMs; the connection is reset, since later replies could no longer be matched' },
  E_CLIENT_CLOSED: { status: 'ERROR', http: 503, what: 'client: a request on a closed client, or in flight when it was closed' },
  E_NO_DATA_DIR: { status: 'ERROR', http: 400, what: 'an offline command (audit verify, quarantine) was given a data directory that does not exist or is not a shadowpath one (no audit/audit.log)' },
  E_NO_INCIDENT: { status: 'ERROR', http: 400, what: 'replay: no incident report at that path, or its state snapshot file is missing' },
  E_TLS: { status: 'ERROR', http: 503, what: 'client: the TLS handshake failed (the server\'s certificate is not trusted by the given CA or carries another name, or the server does not speak TLS); not retried' },
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class SidecarError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'SidecarError';
    this.code = code;
    if (details !== undefined) this.details = details;
  }
  get status(): ReplyStatus {
    return ERROR_CODES[this.code].status;
  }
  get http(): number {
    return ERROR_CODES[this.code].http;
  }
}

export function isSidecarError(e: unknown, code?: ErrorCode): e is SidecarError {
  return e instanceof SidecarError && (code === undefined || e.code === code);
}

/** An error reply on the wire: the one way to build one. Its status (and HTTP status) come from the registry. */
export interface ErrorReplyOf {
  status: ReplyStatus;
  error: { code: ErrorCode; message: string };
  details?: Record<string, unknown>;
}

export function errorReply(code: ErrorCode, message: string, details?: Record<string, unknown>): ErrorReplyOf {
  return { status: ERROR_CODES[code].status, error: { code, message }, ...(details ? { details } : {}) };
}
