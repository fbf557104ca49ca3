// The web console's shell: the route from the URL's hash, the time control, the live feed, the views.
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import * as api from './api.js';
import { tAtDate, type TimelinePoint } from './time.js';
import { keywordOf } from './values.js';
import { ErrorBox, Time, href, shortInstant, useTime, type TimeState } from './ui.js';
import { QueryView } from './views/query.js';
import { EntityView } from './views/entity.js';
import { LogView } from './views/log.js';
import { DiffView } from './views/diff.js';
import { SchemaView } from './views/schema.js';

interface Route {
  path: string[];
  asOf: number | null;
}

function parseHash(hash: string): Route {
  const [p = '', qs = ''] = hash.replace(/^#/, '').split('?');
  const t = new URLSearchParams(qs).get('t');
  return { path: p.split('/').filter(Boolean), asOf: t !== null && /^\d+$/.test(t) ? Number(t) : null };
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

const VIEWS: [string, string][] = [
  ['query', 'Query'],
  ['log', 'Log'],
  ['diff', 'Diff'],
  ['schema', 'Schema'],
];

function App() {
  const route = useRoute();
  const [timeline, setTimeline] = useState<TimelinePoint[]>([]);
  const [basisT, setBasisT] = useState(0);
  const [version, setVersion] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const [live, setLive] = useState<number[]>([]);
  const [loaded, setLoaded] = useState(false);
  const [refAttrs, setRefAttrs] = useState<Set<string>>(new Set());
  const [needToken, setNeedToken] = useState(false);
  useEffect(() => api.whenUnauthorized(() => setNeedToken(true)), []);

  useEffect(() => {
    api.timeline().then((tl) => {
      setTimeline(tl.points);
      setBasisT(tl.basisT);
      setLoaded(true);
    }, setError);
  }, []);

  useEffect(() => {
    api.schema(null).then((attrs) => setRefAttrs(new Set(attrs.filter((a) => keywordOf(a.valueType) === 'db.type/ref').map((a) => ':' + keywordOf(a.ident)))), setError);
  }, [version]);

  // the feed runs all along (from the first t the timeline lacks); views reload only while at "now"
  useEffect(() => {
    if (!loaded) return;
    return api.feed(basisT + 1, (tx) => {
      setTimeline((tl) => (tl.some((p) => p.t === tx.t) ? tl : [...tl, { t: tx.t, instant: tx.instant }]));
      setBasisT((b) => Math.max(b, tx.t));
      setLive((ts) => [...ts.slice(-19), tx.t]);
      setVersion((v) => v + 1);
    });
  }, [loaded]);

  const asOf = route.asOf !== null && route.asOf >= basisT && basisT > 0 ? null : route.asOf;
  const time: TimeState = useMemo(
    () => ({
      asOf,
      basisT,
      timeline,
      version: asOf === null ? version : 0,
      refAttrs,
      setAsOf: (t) => {
        location.hash = href('/' + (route.path.join('/') || 'query'), t === null || t >= basisT ? null : t);
      },
    }),
    [asOf, basisT, timeline, version, refAttrs, route.path.join('/')],
  );
  const view = route.path[0] ?? 'query';

  return (
    <Time.Provider value={time}>
      <header class="top">
        <a class="brand" href={href('/query', asOf)}>
          factlog
        </a>
        <nav>
          {VIEWS.map(([id, label]) => (
            <a href={href('/' + id, asOf)} class={view === id ? 'active' : ''} data-view={id}>
              {label}
            </a>
          ))}
          <EntityJump />
        </nav>
        <LiveBadge live={live} atNow={asOf === null} />
      </header>
      <TimeControl />
      {needToken && <TokenForm />}
      <ErrorBox error={error} />
      <main>
        {view === 'query' && <QueryView />}
        {view === 'entity' && <EntityView key={route.path[1]} eid={Number(route.path[1])} />}
        {view === 'log' && <LogView live={live} />}
        {view === 'diff' && <DiffView />}
        {view === 'schema' && <SchemaView />}
      </main>
    </Time.Provider>
  );
}

/** Asks for a token when the server has tokens and the page has none that is valid. */
function TokenForm() {
  const [text, setText] = useState('');
  return (
    <form
      class="token"
      onSubmit={(e) => {
        e.preventDefault();
        api.setToken(text.trim());
        location.reload();
      }}
    >
      This server needs a token (<code>factlog token</code> makes one):{' '}
      <input type="password" aria-label="token" value={text} onInput={(e) => setText(e.currentTarget.value)} size={40} autoComplete="off" /> <button type="submit">Use token</button>
    </form>
  );
}

/** Go to an entity by id, ident or lookup ref. */
function EntityJump() {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  return (
    <form
      class="jump"
      onSubmit={(e) => {
        e.preventDefault();
        const go = (id: number) => (location.hash = href(`/entity/${id}`, parseHash(location.hash).asOf));
        if (/^\d+$/.test(text.trim())) return go(Number(text.trim()));
        api.resolveEntity(text.trim()).then(
          (id) => (setError(null), go(id)),
          (err: Error) => setError(err.message),
        );
      }}
    >
      <input
        placeholder='entity: 1012 or [:account/id "A-1"]'
        value={text}
        onInput={(e) => setText(e.currentTarget.value)}
        aria-label="go to entity"
        title={error ?? 'an entity id, ident or lookup ref'}
        class={error ? 'invalid' : ''}
        size={24}
      />
    </form>
  );
}

function LiveBadge({ live, atNow }: { live: number[]; atNow: boolean }) {
  return (
    <span class={'live ' + (atNow ? 'on' : 'off')} title={atNow ? 'showing now: new transactions appear as they commit' : 'showing the past: the page does not follow new transactions'}>
      {atNow ? '● live' : '○ paused'}
      {live.length > 0 && <span class="live-last"> t {live[live.length - 1]}</span>}
    </span>
  );
}

/** A slider over the log's transactions, a date picker and "now": the point every view shows. */
function TimeControl() {
  const time = useTime();
  const { timeline, basisT, asOf, setAsOf } = time;
  const points = [...timeline].sort((a, b) => a.t - b.t);
  const current = asOf ?? basisT;
  const index = Math.max(
    0,
    points.findIndex((p) => p.t >= current),
  );
  const point = points.find((p) => p.t === current);
  const [date, setDate] = useState('');
  // the date field shows the chosen point's instant (UTC, to the minute) until one is typed
  useEffect(() => setDate(point ? point.instant.slice(0, 16) : ''), [point?.instant]);
  return (
    <section class="time" aria-label="time control">
      <label class="time-label">
        as of <strong data-testid="time-t">{asOf === null ? `now (t ${basisT})` : `t ${asOf}`}</strong>
        <span class="time-instant">{point ? shortInstant(point.instant) : ''}</span>
      </label>
      <input
        type="range"
        class="time-slider"
        aria-label="point in time"
        min={0}
        max={Math.max(0, points.length - 1)}
        value={asOf === null ? points.length - 1 : index}
        onInput={(e) => {
          const p = points[Number(e.currentTarget.value)];
          if (p) setAsOf(p.t);
        }}
      />
      <form
        class="time-date"
        onSubmit={(e) => {
          e.preventDefault();
          if (date) setAsOf(tAtDate(points, new Date(date.length <= 10 ? date + 'T23:59:59.999Z' : date + 'Z')));
        }}
      >
        <input type="datetime-local" aria-label="date (UTC)" value={date} onInput={(e) => setDate(e.currentTarget.value)} />
        <button type="submit">go</button>
      </form>
      <button class="now" disabled={asOf === null} onClick={() => setAsOf(null)}>
        now
      </button>
    </section>
  );
}

render(<App />, document.getElementById('app')!);
