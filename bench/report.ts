// The printed table and the target summary.
import type { BenchReport, WorkloadReport } from './runner.js';

const ms = (x: number | null): string => (x === null || !Number.isFinite(x) ? '-' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const ratio = (x: number | null): string => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(2));
const num = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en') : '-');

function notes(w: WorkloadReport): string {
  const parts: string[] = [];
  if (w.throughput) parts.push(`${num(w.throughput.factlog)} vs ${num(w.throughput.ds)} ${w.throughput.unit}`);
  if (w.paired) parts.push(`asOf/now ${ratio(w.paired.ratio)} paired (medians ${ms(w.paired.asOfMs)} vs ${ms(w.paired.nowMs)} ms; ${ratio(w.nowRatio!)} in the rounds with DataScript)`);
  else if (w.nowRatio !== null) parts.push(`asOf/now ${ratio(w.nowRatio)} (now ${ms(w.nowMs)} ms)`);
  if (w.pairedRaw) parts.push(`fl/raw ${ratio(w.pairedRaw.ratio)} paired`);
  if (w.extra?.peakRssMB !== undefined) parts.push(`peak RSS ${w.extra.peakRssMB.toFixed(0)} MB${w.extra.isolated ? '' : ' (in-process)'}`);
  if (w.extra?.peakAnonMB !== undefined) parts.push(`anonymous ${w.extra.peakAnonMB.toFixed(0)} MB`);
  if (w.extra?.bytesPerDatom !== undefined) {
    parts.push(`${w.extra.bytesPerDatom.toFixed(0)} bytes/datom in use (raw ${w.extra.rawBytesPerDatom!.toFixed(0)}), ${num(w.extra.freePages!)} free pages`);
  }
  if (w.extra?.dsHeapMB !== undefined && w.extra.dsHeapMB > 0) parts.push(`DataScript heap +${w.extra.dsHeapMB.toFixed(0)} MB`);
  if (w.answers) parts.push(w.answers.same ? `same ${w.answers.factlog} rows` : `DIFFERENT: ${w.answers.factlog} vs ${w.answers.ds} rows, ${w.answers.firstDifference}`);
  if (w.dsNote) parts.push(`[${w.dsNote}]`);
  return parts.join('; ');
}

export function formatTable(report: BenchReport): string {
  const head = ['workload', 'factlog ms', 'DataScript ms', 'fl/DS', 'raw lmdb ms', 'fl/raw', 'notes'];
  const rows = report.workloads.map((w) => [w.name, ms(w.factlogMs), ms(w.dsMs), ratio(w.ratio), ms(w.rawMs), ratio(w.rawRatio), notes(w)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (i === head.length - 1 ? 0 : r[i].length))));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === 0 || i === r.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const m = report.meta;
  // a scale-only run never builds the people fixture: its size is in the scale rows
  const onlyScale = report.workloads.length > 0 && report.workloads.every((w) => w.group === 'scale');
  const size = onlyScale ? 'the scale group' : `${num(m.people)} people (${num(m.datoms)} datoms)`;
  const out = [`factlog vs DataScript: ${size}, median of ${m.runs} interleaved runs after ${m.warmup} warm-up; node ${m.node}, ${m.platform}`];
  if (m.history)
    out.push(
      `asOf: t ${m.history.asOfT} in a history of ${m.history.transactions} update transactions (${m.history.rounds} updates of every person, ${num(m.history.batch)} updates per tx)`,
    );
  out.push(...m.notes.map((n) => `note: ${n}`), '', line(head), line(widths.map((w) => '-'.repeat(w))));
  let group = '';
  for (let i = 0; i < rows.length; i++) {
    if (report.workloads[i].group !== group && group) out.push('');
    group = report.workloads[i].group;
    out.push(line(rows[i]));
  }
  out.push('', 'targets:');
  for (const t of report.targets) out.push(`  [${t.met ? 'met' : 'NOT met'}] ${t.target}: ${t.detail}`);
  return out.join('\n');
}
