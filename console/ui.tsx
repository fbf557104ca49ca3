// Pieces every view shares: the page's time point, links to entities, values as EDN, errors.
import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { ApiError } from './api.js';
import type { TimelinePoint } from './time.js';
import { ednOf, entityIdOf, textOf, type Json } from './values.js';

/** Where the page is in time: `asOf` null is "now"; `version` changes when the data shown may have. */
export interface TimeState {
  asOf: number | null;
  basisT: number;
  timeline: TimelinePoint[];
  /** Bumped when a transaction commits while the page is at "now": views reload. */
  version: number;
  /** The ref attributes (":account/owner"...): their values link to entities. */
  refAttrs: Set<string>;
  setAsOf(t: number | null): void;
}

export const Time = createContext<TimeState>({ asOf: null, basisT: 0, timeline: [], version: 0, refAttrs: new Set(), setAsOf: () => {} });

export function useTime(): TimeState {
  return useContext(Time);
}

/** The t a view reads at: the chosen point, or the latest t when at "now". */
export function effectiveT(time: TimeState): number {
  return time.asOf ?? time.basisT;
}

/** A transaction's t from its tx id (the tx partition sits above bit 40). */
export function tOfTx(tx: number): number {
  return tx % 2 ** 40;
}

/** A URL inside the console, keeping the page's time point. */
export function href(path: string, asOf: number | null): string {
  return '#' + path + (asOf === null ? '' : `?t=${asOf}`);
}

export function EntityLink({ eid, label }: { eid: number; label?: string }) {
  const { asOf } = useTime();
  return (
    <a class="entity-link" href={href(`/entity/${eid}`, asOf)}>
      {label ?? String(eid)}
    </a>
  );
}

/** A value as EDN, or a link when it is a ref (`isRef`, or the value of ref attribute `attr`). */
export function Value({ v, isRef = false, attr }: { v: Json | undefined; isRef?: boolean; attr?: string | number }) {
  const { refAttrs } = useTime();
  const eid = isRef || (attr !== undefined && refAttrs.has(String(attr))) ? entityIdOf(v ?? null) : null;
  if (eid !== null) return <EntityLink eid={eid} />;
  if (v && typeof v === 'object' && !Array.isArray(v) && typeof v['db/id'] === 'number' && Object.keys(v).length === 1) return <EntityLink eid={v['db/id']} />;
  return <span class={typeof v === 'string' ? 'v-string' : 'v-edn'}>{typeof v === 'string' ? ednOf(v) : textOf(v)}</span>;
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const code = error instanceof ApiError ? error.code : 'console/error';
  return (
    <div class="error" role="alert">
      <code>{code}</code> {error instanceof Error ? error.message : String(error)}
    </div>
  );
}

/** The result of an async load that reruns when `deps` change; keeps the last value while reloading. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: unknown; loading: boolean } {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: null, loading: true });
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error) => live && setState({ data: undefined, error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, deps);
  return state;
}

/** An ISO instant shown short: date and time to the minute, UTC. */
export function shortInstant(iso: string): string {
  return iso ? iso.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, 'Z') : '';
}
