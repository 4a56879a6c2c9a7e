export { UnauthorizedError } from "./unauthorized-error";
export { UnavailableError } from "./unavailable-error";
