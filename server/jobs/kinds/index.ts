/** STUB (being written): registers the train, predictor and search job kinds. */
import type { ServerContext } from "../../context.js";

export function registerKinds(_ctx: ServerContext): void {}
