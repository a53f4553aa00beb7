// One error type for everything the sandbox refuses. It carries the HTTP status so that the in-process API
// (SandboxState methods, used directly by tests) and the HTTP layer agree on what each failure means:
// the HTTP layer only turns it into `{"message": ...}` with that status.
export class SandboxError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'SandboxError';
  }
}

export const badRequest = (message: string): SandboxError => new SandboxError(400, message);
export const notFound = (message: string): SandboxError => new SandboxError(404, message);
