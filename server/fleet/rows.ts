/**
 * A campaign's stored rows as a latency dataset: one LatencyRow per architecture index, in index
 * order, in HAT's CSV layout with this project's columns (latency/dataset.ts), so
 * `hat predictor fit --data campaign.csv` reads it. The device of a row is the hardware of the
 * agent that measured it.
 */
import { Hono } from "hono";
import { z } from "zod";
import { validateArch } from "../../runtime/arch.js";
import { hatFeatures } from "../../runtime/arch-features.js";
import { formatDataset, type DeviceInfo, type LatencyRow } from "../../latency/dataset.js";
import type { Db } from "../db.js";
import { notFound } from "../http.js";
import { describe } from "../openapi.js";
import type { FleetCore } from "./core.js";
import { campaignProtocol, type StoredRow } from "./store.js";

export interface CampaignDataset {
  rows: LatencyRow[];
  csv: string;
  /** Rows per measuring agent. */
  agents: Record<string, number>;
}

export function campaignDataset(db: Db, jobId: string): CampaignDataset {
  const campaign = db.prepare(`SELECT protocol, rounds FROM campaigns WHERE job_id = ?`).get(jobId) as { protocol: string; rounds: number } | undefined;
  if (!campaign) throw new Error(`no campaign ${jobId}`);
  const protocol = campaignProtocol(campaign);
  const stored = db.prepare(`SELECT r.*, a.arch AS arch_json, g.hardware AS hardware FROM latency_rows r
    JOIN campaign_archs a ON a.job_id = r.job_id AND a.idx = r.idx
    LEFT JOIN agents g ON g.id = r.agent_id
    WHERE r.job_id = ? ORDER BY r.idx`).all(jobId) as (StoredRow & { arch_json: string; hardware: string | null })[];
  const agents: Record<string, number> = {};
  const rows = stored.map((s): LatencyRow => {
    agents[s.agent_id] = (agents[s.agent_id] ?? 0) + 1;
    const arch = validateArch(JSON.parse(s.arch_json)); // read back from the database: validated like any input
    const hw = s.hardware ? (JSON.parse(s.hardware) as DeviceInfo) : undefined;
    const row: LatencyRow = {
      features: hatFeatures(arch),
      encoder_ms: s.encoder_ms, decoder_ms: s.decoder_ms, encoder_std_ms: s.encoder_std_ms, decoder_std_ms: s.decoder_std_ms,
      arch, protocol: { ...protocol, runs: s.runs, build: s.build },
      device: hw && { cpu: hw.cpu, cores: hw.cores, arch: hw.arch, platform: hw.platform },
      sample: s.idx, measured_at: new Date(s.measured_at).toISOString(),
    };
    if (s.seq !== null) row.seq = s.seq;
    if (s.load1 !== null) row.load1 = s.load1;
    if (s.speed !== null) row.speed = s.speed;
    if (s.ref_ms !== null) row.ref_ms = s.ref_ms;
    if (!row.device) delete row.device;
    return row;
  });
  return { rows, csv: formatDataset(rows), agents };
}

/** A campaign's rows so far, as GET /v1/campaigns/{id}/rows shows them (the dashboard's histogram). */
export const CampaignRowsView = z.object({
  campaign: z.string(), device_class: z.string(), size: z.number().int(),
  rows: z.array(z.object({
    idx: z.number().int(), agent_id: z.string(), encoder_ms: z.number(), decoder_ms: z.number(), total_ms: z.number(),
    speed: z.number().nullable(), load1: z.number().nullable(), measured_at: z.number(),
  })),
});
export type CampaignRowsView = z.infer<typeof CampaignRowsView>;

/**
 * GET /v1/campaigns/{id}/rows (admin): the rows a campaign has so far, running or ended, in index
 * order (at most its size, bounded at creation). The finished dataset is the job's `dataset` artifact.
 */
export function campaignRowsApp(fleet: FleetCore): Hono {
  const { db } = fleet.ctx;
  const app = new Hono();
  describe({ method: "get", path: "/v1/campaigns/{id}/rows", auth: "admin", summary: "a campaign's measured rows so far (index, agent, encoder/decoder/total ms, speed), in index order",
    ok: { status: 200, description: "the rows", schema: CampaignRowsView } });
  app.get("/campaigns/:id/rows", fleet.ctx.admin, (c) => {
    const id = c.req.param("id");
    const campaign = db.prepare(`SELECT device_class, size FROM campaigns WHERE job_id = ?`).get(id) as { device_class: string; size: number } | undefined;
    if (!campaign) throw notFound(`campaign ${id.slice(0, 100)}`);
    const rows = db.prepare(`SELECT idx, agent_id, encoder_ms, decoder_ms, encoder_ms + decoder_ms AS total_ms, speed, load1, measured_at
      FROM latency_rows WHERE job_id = ? ORDER BY idx`).all(id) as CampaignRowsView["rows"];
    return c.json({ campaign: id, device_class: campaign.device_class, size: campaign.size, rows } satisfies CampaignRowsView);
  });
  return app;
}
