// Use-case errors carry the api.md error code and status, so every entry point reports them alike.
export type AppErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 422 | 429;

export class AppError extends Error {
  override readonly name = 'AppError';
  constructor(
    readonly status: AppErrorStatus,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const notFound = (what: string, id: string) => new AppError(404, 'not_found', `${what} ${id} was not found`);

export function invalid(problems: { path: string; message: string }[], message?: string): AppError {
  const first = problems[0];
  return new AppError(400, 'invalid_input', message ?? (first ? `${first.path}: ${first.message}` : 'invalid input'), {
    fields: problems,
  });
}
