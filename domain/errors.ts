/**
 * The domain's failures. Each names the field it is about where there is one; the HTTP edge alone
 * decides which status code each becomes.
 */
export class DomainError extends Error {
  constructor(
    message: string,
    readonly field?: string,
    /** Every field at fault, when there are several (each column a CSV header gets wrong). */
    readonly problems?: { field: string; message: string }[],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The input breaks a rule of its own shape that the contract cannot state (e.g. a window from 09:00 to 09:00). */
export class MalformedInputError extends DomainError {}

/** The input is well-formed but breaks a rule of the domain (e.g. operator code not matching the phone). */
export class InvalidInputError extends DomainError {}

/** No such entity. */
export class NotFoundError extends DomainError {}

/** The input clashes with stored state (a duplicate phone, an edit of a finished mailing). */
export class ConflictError extends DomainError {}

/** A dependency the request needs (database, Temporal) did not answer. */
export class UnavailableError extends DomainError {}
