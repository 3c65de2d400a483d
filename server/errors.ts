// A refusal the domain answers with an HTTP status and a code of its own
// ('conflict', 'not_found', 'wrong_status', …). The HTTP edge's one error
// handler sends it as { error: code, message }.
export class DomainError extends Error {
  constructor(readonly statusCode: 400 | 401 | 403 | 404 | 409 | 429 | 503, readonly code: string, message: string) {
    super(message);
  }
}
