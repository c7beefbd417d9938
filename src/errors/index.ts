// Errors: the one catalog of client-visible errors, named after the AWS exception each becomes.
// Leaf module: imports nothing of ours. Serialized only by api/ (one place per protocol).
export { type ErrorName, errorCatalog, isServiceError, ServiceError } from './catalog.ts';
