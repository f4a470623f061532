/** The job kinds of server/jobs (the campaign kind is server/fleet's): each turns its params into a JobSpec for the job child. */
import type { ServerContext } from "../../context.js";
import { predictorKind } from "./predictor.js";
import { searchKind } from "./search.js";
import { exportKind, finetuneKind } from "./subnet.js";
import { quantizeKind } from "./quantize.js";
import { studyKind } from "./study.js";
import { trainKind } from "./train.js";

export function registerKinds(ctx: ServerContext): void {
  ctx.jobs.register(trainKind(ctx));
  ctx.jobs.register(predictorKind(ctx));
  ctx.jobs.register(searchKind(ctx));
  ctx.jobs.register(exportKind(ctx));
  ctx.jobs.register(finetuneKind(ctx));
  ctx.jobs.register(quantizeKind(ctx));
  ctx.jobs.register(studyKind(ctx));
}
