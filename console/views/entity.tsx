// An entity: its attributes as of the page's point, refs as links, reverse refs, its history as a
// timeline of assertions and retractions with tx instants and metadata, numeric attributes charted.
import * as api from '../api.js';
import { chartPath } from '../time.js';
import { EntityLink, ErrorBox, Value, effectiveT, href, shortInstant, tOfTx, useLoad, useTime } from '../ui.js';
import { keywordOf, numericOf, textOf, type Json } from '../values.js';

const NUMERIC_TYPES = new Set(['db.type/long', 'db.type/double', 'db.type/float', 'db.type/bigint', 'db.type/bigdec']);

interface HistoryEvent {
  t: number;
  tx: number;
  attr: string;
  v: Json;
  added: boolean;
}

interface EntityData {
  attrs: [string, Json[]][];
  reverse: [number, string][];
  events: HistoryEvent[];
  txInfo: Map<number, { instant: string; meta: [string, Json][] }>;
  types: Map<string, string>;
}

async function loadEntity(eid: number, asOf: number | null): Promise<EntityData> {
  const [schema, current, reverse, history, txs] = await Promise.all([
    api.schema(asOf),
    api.query({ query: `[:find ?attr ?v :where [${eid} ?a ?v] [?a :db/ident ?attr]]`, asOf }),
    api.query({ query: `[:find ?e ?attr :where [?e ?a ${eid}] [?a :db/valueType :db.type/ref] [?a :db/ident ?attr]]`, asOf }),
    api.query({ query: `[:find ?attr ?v ?tx ?added :where [${eid} ?a ?v ?tx ?added] [?a :db/ident ?attr]]`, asOf, history: true }),
    api.query({ query: `[:find ?tx ?attr ?v :where [${eid} _ _ ?tx] [?tx ?a ?v _ true] [?a :db/ident ?attr]]`, asOf, history: true }),
  ]);
  const types = new Map(schema.map((a) => [keywordOf(a.ident) ?? '', keywordOf(a.valueType) ?? '']));
  const attrs = new Map<string, Json[]>();
  for (const [a, v] of current as [Json, Json][]) {
    const name = keywordOf(a) ?? textOf(a);
    attrs.set(name, [...(attrs.get(name) ?? []), v]);
  }
  const txInfo = new Map<number, { instant: string; meta: [string, Json][] }>();
  for (const [tx, a, v] of txs as [number, Json, Json][]) {
    const info = txInfo.get(tx) ?? { instant: '', meta: [] };
    const name = keywordOf(a) ?? textOf(a);
    if (name === 'db/txInstant') info.instant = api.instantText(v);
    else info.meta.push([name, v]);
    txInfo.set(tx, info);
  }
  const events = (history as [Json, Json, number, boolean][])
    .map(([a, v, tx, added]) => ({ t: tOfTx(tx), tx, attr: keywordOf(a) ?? textOf(a), v, added }))
    .sort((x, y) => x.t - y.t || Number(x.added) - Number(y.added) || x.attr.localeCompare(y.attr));
  return {
    attrs: [...attrs].sort(([x], [y]) => x.localeCompare(y)),
    reverse: (reverse as [number, Json][]).map(([e, a]) => [e, keywordOf(a) ?? textOf(a)] as [number, string]).sort((x, y) => x[0] - y[0] || x[1].localeCompare(y[1])),
    events,
    txInfo,
    types,
  };
}

export function EntityView({ eid }: { eid: number }) {
  const time = useTime();
  const { data, error } = useLoad(() => loadEntity(eid, time.asOf), [eid, time.asOf, time.version]);
  if (!Number.isSafeInteger(eid)) return <ErrorBox error={new Error('not an entity id')} />;
  return (
    <section class="view entity-view">
      <h2>
        Entity <span data-testid="entity-id">{eid}</span>
      </h2>
      <ErrorBox error={error} />
      {data && data.attrs.length === 0 && data.events.length === 0 && <p class="hint">No datoms about {eid} as of this point.</p>}
      {data && (
        <>
          <div class="cols">
            <div>
              <h3>Attributes</h3>
              <table class="grid attrs">
                <tbody>
                  {data.attrs.map(([a, vs]) => (
                    <tr>
                      <th>:{a}</th>
                      <td>
                        {vs.map((v) => (
                          <span class="multi">
                            <Value v={v} isRef={data.types.get(a) === 'db.type/ref'} />
                          </span>
                        ))}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <div>
              <h3>Referenced by</h3>
              {data.reverse.length === 0 ? (
                <p class="hint">Nothing refers to this entity.</p>
              ) : (
                <ul class="reverse">
                  {data.reverse.map(([e, a]) => (
                    <li>
                      <EntityLink eid={e} /> <code>:{a}</code>
                    </li>
                  ))}
                </ul>
              )}
            </div>
          </div>
          <Charts data={data} endT={effectiveT(time)} />
          <Timeline data={data} />
        </>
      )}
    </section>
  );
}

function Timeline({ data }: { data: EntityData }) {
  const byTx = new Map<number, HistoryEvent[]>();
  for (const e of data.events) byTx.set(e.tx, [...(byTx.get(e.tx) ?? []), e]);
  const { asOf } = useTime();
  return (
    <div class="timeline">
      <h3>History</h3>
      <ol>
        {[...byTx].map(([tx, events]) => {
          const info = data.txInfo.get(tx);
          return (
            <li class="tl-tx" data-t={tOfTx(tx)}>
              <div class="tl-head">
                <a href={href('/log', asOf) + `${asOf === null ? '?' : '&'}focus=${tOfTx(tx)}`}>t {tOfTx(tx)}</a>
                <span class="tl-instant">{info ? shortInstant(info.instant) : ''}</span>
                {info?.meta.map(([a, v]) => (
                  <span class="tl-meta">
                    :{a} <Value v={v} />
                  </span>
                ))}
              </div>
              <ul>
                {events.map((e) => (
                  <li class={e.added ? 'op-add' : 'op-retract'}>
                    <span class="op">{e.added ? 'assert' : 'retract'}</span> <code>:{e.attr}</code> <Value v={e.v} isRef={data.types.get(e.attr) === 'db.type/ref'} />
                  </li>
                ))}
              </ul>
            </li>
          );
        })}
      </ol>
    </div>
  );
}

const CHART_W = 520;
const CHART_H = 120;

/** A step chart per numeric attribute: each assertion's value from its transaction's instant on. */
function Charts({ data, endT }: { data: EntityData; endT: number }) {
  const { timeline } = useTime();
  const endInstant = timeline.find((p) => p.t === endT)?.instant;
  const series = new Map<string, { time: number; value: number; t: number }[]>();
  for (const e of data.events) {
    if (!e.added || !NUMERIC_TYPES.has(data.types.get(e.attr) ?? '')) continue;
    const value = numericOf(e.v);
    const instant = data.txInfo.get(e.tx)?.instant;
    if (value === null || !instant) continue;
    series.set(e.attr, [...(series.get(e.attr) ?? []), { time: Date.parse(instant), value, t: e.t }]);
  }
  if (series.size === 0) return null;
  return (
    <div class="charts">
      {[...series].map(([attr, points]) => {
        const end = endInstant ? Date.parse(endInstant) : Math.max(...points.map((p) => p.time));
        const values = points.map((p) => p.value);
        const min = Math.min(...values, 0);
        const max = Math.max(...values, min + 1);
        const t0 = Math.min(...points.map((p) => p.time));
        const t1 = Math.max(end, ...points.map((p) => p.time), t0 + 1);
        return (
          <figure class="chart" data-attr={attr}>
            <figcaption>
              <code>:{attr}</code> over time
            </figcaption>
            <svg viewBox={`-60 -10 ${CHART_W + 80} ${CHART_H + 30}`} role="img" aria-label={`:${attr} over time`}>
              <line class="axis" x1={0} y1={CHART_H} x2={CHART_W} y2={CHART_H} />
              <line class="axis" x1={0} y1={0} x2={0} y2={CHART_H} />
              <text class="tick" x={-6} y={4} text-anchor="end">
                {max}
              </text>
              <text class="tick" x={-6} y={CHART_H} text-anchor="end">
                {min}
              </text>
              <text class="tick" x={0} y={CHART_H + 16}>
                {new Date(t0).toISOString().slice(0, 10)}
              </text>
              <text class="tick" x={CHART_W} y={CHART_H + 16} text-anchor="end">
                {new Date(t1).toISOString().slice(0, 10)}
              </text>
              <path class="series" d={chartPath(points, CHART_W, CHART_H, end)} />
              {points.map((p) => (
                <circle class="point" cx={((p.time - t0) / (t1 - t0)) * CHART_W} cy={CHART_H - ((p.value - min) / (max - min)) * CHART_H} r={3.5}>
                  <title>{`t ${p.t}: ${p.value}`}</title>
                </circle>
              ))}
            </svg>
          </figure>
        );
      })}
    </div>
  );
}
