// The transaction log, newest first, a page at a time, filtered by attribute, entity or tx metadata.
import { useState } from 'preact/hooks';
import * as api from '../api.js';
import { ErrorBox, Value, effectiveT, shortInstant, useLoad, useTime } from '../ui.js';
import { ednOf } from '../values.js';

const PAGE = 20;
/** Datoms shown per transaction until it is opened in full. */
const SHOWN_DATOMS = 12;
/** How far back a filtered search reads (the server's page cap). */
const FILTER_SCAN = 10_000;

interface Filter {
  attr: string;
  entity: string;
  meta: string;
}

function matches(tx: api.TxRecord, f: Filter): boolean {
  const attr = f.attr.trim().replace(/^:?/, ':');
  if (f.attr.trim() && !tx.data.some((d) => d.a === attr)) return false;
  if (f.entity.trim() && !tx.data.some((d) => String(d.e) === f.entity.trim())) return false;
  if (f.meta.trim()) {
    const metaText = Object.entries(tx.meta)
      .map(([k, v]) => `:${k} ${ednOf(v)}`)
      .join(' ')
      .toLowerCase();
    if (!metaText.includes(f.meta.trim().toLowerCase())) return false;
  }
  return true;
}

async function loadPage(top: number, page: number, filter: Filter): Promise<{ txs: api.TxRecord[]; more: boolean }> {
  const filtered = filter.attr.trim() || filter.entity.trim() || filter.meta.trim();
  if (!filtered) {
    const to = top - page * PAGE;
    if (to < 1) return { txs: [], more: false };
    const from = Math.max(1, to - PAGE + 1);
    const txs = (await api.log(from, to, PAGE)).filter((tx) => tx.t >= from && tx.t <= to);
    return { txs: txs.sort((a, b) => b.t - a.t), more: from > 1 };
  }
  const from = Math.max(1, top - FILTER_SCAN + 1);
  const all = (await api.log(from, top, FILTER_SCAN)).filter((tx) => tx.t <= top && matches(tx, filter)).sort((a, b) => b.t - a.t);
  return { txs: all.slice(page * PAGE, (page + 1) * PAGE), more: all.length > (page + 1) * PAGE };
}

export function LogView({ live }: { live: number[] }) {
  const time = useTime();
  const [page, setPage] = useState(0);
  const [filter, setFilter] = useState<Filter>({ attr: '', entity: '', meta: '' });
  const [applied, setApplied] = useState<Filter>(filter);
  const top = effectiveT(time);
  const { data, error, loading } = useLoad(() => loadPage(top, page, applied), [top, page, applied, time.version]);
  const [opened, setOpened] = useState<Set<number>>(new Set());
  const focus = Number(new URLSearchParams(location.hash.split('?')[1] ?? '').get('focus'));
  const field = (name: keyof Filter, label: string, placeholder: string) => (
    <label>
      {label}
      <input name={name} placeholder={placeholder} value={filter[name]} onInput={(e) => setFilter({ ...filter, [name]: e.currentTarget.value })} />
    </label>
  );
  return (
    <section class="view log-view">
      <h2>Transaction log</h2>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setPage(0);
          setApplied(filter);
        }}
      >
        {field('attr', 'attribute', ':account/balance')}
        {field('entity', 'entity', '1012')}
        {field('meta', 'tx metadata', 'rent')}
        <button type="submit">Filter</button>
      </form>
      <ErrorBox error={error} />
      {data && data.txs.length === 0 && !loading && <p class="hint">No transactions{applied !== filter ? '' : ' match'}.</p>}
      {data?.txs.map((tx) => (
        <article class={'tx' + (live.includes(tx.t) ? ' tx-live' : '') + (tx.t === focus ? ' tx-focus' : '')} data-t={tx.t}>
          <header>
            <strong>t {tx.t}</strong>
            <span class="tl-instant">{shortInstant(tx.instant)}</span>
            {Object.entries(tx.meta).map(([k, v]) => (
              <span class="tl-meta">
                :{k} <Value v={v} />
              </span>
            ))}
            <span class="hint">{tx.data.length} datoms</span>
          </header>
          <table class="grid datoms">
            <tbody>
              {(opened.has(tx.t) ? tx.data : tx.data.slice(0, SHOWN_DATOMS)).map((d) => (
                <tr class={d.added ? 'op-add' : 'op-retract'}>
                  <td class="op">{d.added ? '+' : '−'}</td>
                  <td>
                    <Value v={d.e} isRef />
                  </td>
                  <td>
                    <code>{String(d.a)}</code>
                  </td>
                  <td>
                    <Value v={d.v} attr={d.a} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {tx.data.length > SHOWN_DATOMS && !opened.has(tx.t) && (
            <button class="more" onClick={() => setOpened(new Set([...opened, tx.t]))}>
              all {tx.data.length} datoms
            </button>
          )}
        </article>
      ))}
      <div class="pager">
        <button disabled={page === 0} onClick={() => setPage(page - 1)}>
          ← newer
        </button>
        <span>page {page + 1}</span>
        <button disabled={!data?.more} onClick={() => setPage(page + 1)}>
          older →
        </button>
      </div>
    </section>
  );
}
