// One registry of error codes. A code is stable: tests, clients and operators
// match on it; the message is for people and may change. `status` is the reply
// status a code maps to on the wire (PROTOCOL section 2) and `http` its HTTP
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
  E_OVERLOADED: { status: 'REJECTED', http: 409, what: 'the engine queue is full; the cycle was shed' },
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
