// What changed between two points in time: facts present at one and not the other, from the log.
import { useEffect, useState } from 'preact/hooks';
import * as api from '../api.js';
import { diffFromLog } from '../time.js';
import { ErrorBox, Value, effectiveT, shortInstant, useLoad, useTime } from '../ui.js';

const TX_INSTANT = ':db/txInstant';

export function DiffView() {
  const time = useTime();
  const to = effectiveT(time);
  const points = [...time.timeline].sort((a, b) => a.t - b.t);
  const previous = [...points].reverse().find((p) => p.t < to)?.t ?? 0;
  const [from, setFrom] = useState(previous);
  useEffect(() => setFrom(previous), [to]);
  const lo = Math.min(from, to);
  const hi = Math.max(from, to);
  const { data, error } = useLoad(async () => diffFromLog(await api.log(lo + 1, hi, 10_000), from, to), [from, to, time.version]);
  const changes = data?.filter((c) => c.a !== TX_INSTANT) ?? [];
  const label = (t: number) => `t ${t} ${shortInstant(points.find((p) => p.t === t)?.instant ?? '')}`;
  return (
    <section class="view diff-view">
      <h2>Diff</h2>
      <p class="diff-points">
        from{' '}
        <select aria-label="from" value={from} onChange={(e) => setFrom(Number(e.currentTarget.value))}>
          <option value={0}>t 0 (empty)</option>
          {points.map((p) => (
            <option value={p.t}>{label(p.t)}</option>
          ))}
        </select>{' '}
        to <strong>{label(to)}</strong> <span class="hint">(the time control above)</span>
      </p>
      <ErrorBox error={error} />
      {data && (
        <p data-testid="diff-summary">
          {changes.filter((c) => c.op === '+').length} added, {changes.filter((c) => c.op === '-').length} retracted
        </p>
      )}
      <table class="grid diff">
        <thead>
          <tr>
            <th />
            <th>entity</th>
            <th>attribute</th>
            <th>value</th>
            <th>t</th>
          </tr>
        </thead>
        <tbody>
          {changes.map((c) => (
            <tr class={c.op === '+' ? 'op-add' : 'op-retract'}>
              <td class="op">{c.op === '+' ? '+' : '−'}</td>
              <td>
                <Value v={c.e} isRef />
              </td>
              <td>
                <code>{String(c.a)}</code>
              </td>
              <td>
                <Value v={c.v} attr={c.a} />
              </td>
              <td class="num">{c.t}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
