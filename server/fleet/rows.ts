/**
 * A campaign's stored rows as a latency dataset: one LatencyRow per architecture index, in index
 * order, in HAT's CSV layout with this project's columns (latency/dataset.ts), so
 * `hat predictor fit --data campaign.csv` reads it. The device of a row is the hardware of the
 * agent that measured it.
 */
import { validateArch } from "../../runtime/arch.js";
import { hatFeatures } from "../../runtime/arch-features.js";
import { formatDataset, type DeviceInfo, type LatencyRow } from "../../latency/dataset.js";
import type { Db } from "../db.js";
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
