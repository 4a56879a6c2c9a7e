export { UnauthorizedError } from "./unauthorized-error";
export { UnavailableError } from "./unavailable-error";
export { PartialSubscribeError } from "./partial-subscribe-error";
