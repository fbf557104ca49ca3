// The query editor: EDN highlighting with bracket matching, a history, results as a table with
// copy as EDN/JSON/CSV, and `explain` as a plan.
import { useEffect, useRef, useState } from 'preact/hooks';
import * as api from '../api.js';
import { highlightHtml } from '../edn-highlight.js';
import { ErrorBox, Value, useTime } from '../ui.js';
import { findSpec, resultRows, rowsAsCsv, rowsAsEdn, rowsAsJson, type Json } from '../values.js';

const HISTORY_KEY = 'factlog.console.history';
const HISTORY_SIZE = 50;
const FIRST_QUERY = `[:find ?name ?account ?balance
 :where [?p :person/name ?name]
        [?a :account/owner ?p]
        [?a :account/id ?account]
        [?a :account/balance ?balance]]`;

function loadHistory(): string[] {
  try {
    const h = JSON.parse(localStorage.getItem(HISTORY_KEY) ?? '[]') as unknown;
    return Array.isArray(h) ? h.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** Puts a query at the top of the history, where the editor opens it next. */
export function rememberQuery(query: string): void {
  saveHistory([query, ...loadHistory().filter((h) => h !== query)]);
}

function saveHistory(history: string[]): void {
  try {
    localStorage.setItem(HISTORY_KEY, JSON.stringify(history.slice(0, HISTORY_SIZE)));
  } catch {
    // storage full or disabled: the history lasts for this page only
  }
}

/** Variables in entity position of a pattern ([?e ...]): their columns link to entities. */
function entityVars(query: string): Set<string> {
  return new Set([...query.matchAll(/\[\s*(\?[^\s\]]+)\s/g)].map((m) => m[1]!));
}

export function QueryView() {
  const time = useTime();
  const [text, setText] = useState(() => loadHistory()[0] ?? FIRST_QUERY);
  const [caret, setCaret] = useState<number | null>(null);
  const [history, setHistory] = useState(loadHistory);
  const [result, setResult] = useState<{ columns: string[]; rows: Json[][]; query: string; ms: number } | null>(null);
  const [plan, setPlan] = useState<api.Explanation | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [running, setRunning] = useState(false);
  const [exported, setExported] = useState<{ format: string; text: string } | null>(null);
  const pre = useRef<HTMLPreElement>(null);

  const remember = (q: string) => {
    const next = [q, ...history.filter((h) => h !== q)].slice(0, HISTORY_SIZE);
    setHistory(next);
    saveHistory(next);
  };

  // only the latest run may show its answer: an earlier one can finish after it
  const latestRun = useRef(0);
  const lastQuery = useRef<string | null>(null);
  const run = async (q = text) => {
    const id = ++latestRun.current;
    lastQuery.current = q;
    setRunning(true);
    setError(null);
    setPlan(null);
    setExported(null);
    const started = performance.now();
    try {
      const { columns, shape } = findSpec(q);
      const res = await api.query({ query: q, asOf: time.asOf });
      if (id !== latestRun.current) return;
      setResult({ columns, rows: resultRows(res, shape), query: q, ms: performance.now() - started });
      remember(q);
    } catch (err) {
      if (id !== latestRun.current) return;
      setResult(null);
      setError(err);
    } finally {
      if (id === latestRun.current) setRunning(false);
    }
  };

  const runExplain = async () => {
    setError(null);
    try {
      setPlan(await api.explain({ query: text, asOf: time.asOf }));
    } catch (err) {
      setPlan(null);
      setError(err);
    }
  };

  // a result follows the time control: rerun the last query at the new point
  useEffect(() => {
    if (lastQuery.current !== null) void run(lastQuery.current);
  }, [time.asOf, time.version]);

  const copy = (format: 'EDN' | 'JSON' | 'CSV') => {
    if (!result) return;
    const out = format === 'EDN' ? rowsAsEdn(result.rows) : format === 'JSON' ? rowsAsJson(result.rows) : rowsAsCsv(result.columns, result.rows);
    setExported({ format, text: out });
    navigator.clipboard?.writeText(out).catch(() => {});
  };

  const links = result ? entityVars(result.query) : new Set<string>();
  return (
    <section class="view query-view">
      <div class="query-main">
        <div class="editor">
          <pre ref={pre} class="editor-highlight" aria-hidden="true" dangerouslySetInnerHTML={{ __html: highlightHtml(text, caret) + '\n' }} />
          <textarea
            class="editor-input"
            aria-label="query"
            spellcheck={false}
            value={text}
            onInput={(e) => {
              setText(e.currentTarget.value);
              setCaret(e.currentTarget.selectionStart);
            }}
            onKeyUp={(e) => setCaret(e.currentTarget.selectionStart)}
            onClick={(e) => setCaret(e.currentTarget.selectionStart)}
            onBlur={() => setCaret(null)}
            onScroll={(e) => pre.current && (pre.current.scrollTop = e.currentTarget.scrollTop)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
                e.preventDefault();
                void run();
              }
            }}
          />
        </div>
        <div class="toolbar">
          <button class="primary" onClick={() => run()} disabled={running}>
            Run
          </button>
          <button onClick={runExplain}>Explain</button>
          <span class="hint">Ctrl+Enter runs · as of {time.asOf === null ? 'now' : `t ${time.asOf}`}</span>
        </div>
        <ErrorBox error={error} />
        {plan && <Plan plan={plan} />}
        {result && (
          <div class="results">
            <div class="toolbar">
              <span class="count" data-testid="row-count">
                {result.rows.length} {result.rows.length === 1 ? 'row' : 'rows'}
              </span>
              <span class="hint">{result.ms.toFixed(0)} ms</span>
              <span class="spacer" />
              {(['EDN', 'JSON', 'CSV'] as const).map((f) => (
                <button onClick={() => copy(f)}>Copy {f}</button>
              ))}
            </div>
            <table class="grid result-table">
              <thead>
                <tr>
                  {result.columns.map((c) => (
                    <th>{c}</th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {result.rows.map((r) => (
                  <tr>
                    {r.map((v, i) => (
                      <td class={typeof v === 'number' ? 'num' : ''}>
                        <Value v={v} isRef={links.has(result.columns[i] ?? '')} />
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
            {exported && (
              <div class="export">
                <div class="hint">copied as {exported.format}</div>
                <pre data-testid="export">{exported.text}</pre>
              </div>
            )}
          </div>
        )}
      </div>
      <aside class="history">
        <h3>History</h3>
        {history.length === 0 && <p class="hint">Queries you run appear here.</p>}
        <ol>
          {history.map((h) => (
            <li>
              <button class="history-item" title={h} onClick={() => setText(h)}>
                {h.replace(/\s+/g, ' ')}
              </button>
            </li>
          ))}
        </ol>
      </aside>
    </section>
  );
}

function Plan({ plan }: { plan: api.Explanation }) {
  return (
    <div class="plan">
      <h3>
        Plan{' '}
        <span class="hint">
          {plan.resultCount} result rows in {plan.totalMs.toFixed(1)} ms; clauses in the order they ran
        </span>
      </h3>
      <ol class="plan-steps">
        {plan.steps.map((s) => (
          <Step step={s} />
        ))}
      </ol>
    </div>
  );
}

function Step({ step }: { step: api.ExplainStep }) {
  const how = [step.index, step.strategy].filter(Boolean).join(' · ');
  return (
    <li class="plan-step">
      <code class="clause" dangerouslySetInnerHTML={{ __html: highlightHtml(step.clause) }} />
      <span class="plan-how">{how}</span>
      {step.range && <span class="plan-range">range {step.range}</span>}
      <span class="plan-rows">
        ~{step.estimatedRows} est → {step.actualRows} rows
        {step.datomsRead !== undefined && `, ${step.datomsRead} datoms read`}
        {step.evaluations !== undefined && `, ${step.evaluations} evaluations`}, {step.ms.toFixed(2)} ms
      </span>
      {step.children && step.children.length > 0 && (
        <ol class="plan-steps">
          {step.children.map((c) => (
            <Step step={c} />
          ))}
        </ol>
      )}
    </li>
  );
}
