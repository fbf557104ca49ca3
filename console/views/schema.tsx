// The schema as of the page's point: every attribute, its properties and how many datoms it has.
import { useState } from 'preact/hooks';
import * as api from '../api.js';
import { ErrorBox, href, useLoad, useTime } from '../ui.js';
import { rememberQuery } from './query.js';
import { keywordOf, textOf } from '../values.js';

/** The database's own attributes (namespaces db and db.*), which every database has. */
function isBuiltIn(a: api.Attribute): boolean {
  return /^db(\.[a-z]+)*\//.test(keywordOf(a.ident) ?? '');
}

const query = (ident: string) => `[:find ?e ?v\n :where [?e :${ident} ?v]]`;

export function SchemaView() {
  const time = useTime();
  const { data, error } = useLoad(() => api.schema(time.asOf), [time.asOf, time.version]);
  const [showBuiltIn, setShowBuiltIn] = useState(false);
  const attrs = [...(data ?? [])].filter((a) => showBuiltIn || !isBuiltIn(a)).sort((x, y) => textOf(x.ident).localeCompare(textOf(y.ident)));
  const kw = (v: api.Attribute['valueType']) => keywordOf(v)?.replace(/^db\.[a-z]+\//, '') ?? '';
  return (
    <section class="view schema-view">
      <h2>Schema</h2>
      <label class="hint">
        <input type="checkbox" checked={showBuiltIn} onChange={(e) => setShowBuiltIn(e.currentTarget.checked)} /> show the built-in attributes (:db/ident, :db/txInstant...)
      </label>
      <ErrorBox error={error} />
      <table class="grid schema">
        <thead>
          <tr>
            <th>attribute</th>
            <th>type</th>
            <th>cardinality</th>
            <th>unique</th>
            <th>flags</th>
            <th class="num">datoms</th>
          </tr>
        </thead>
        <tbody>
          {attrs.map((a) => {
            const ident = keywordOf(a.ident) ?? textOf(a.ident);
            const flags = [a.isComponent && 'component', a.index && 'index', a.noHistory && 'no-history', a.fulltext && 'fulltext'].filter(Boolean).join(', ');
            return (
              <tr data-attr={ident}>
                <td>
                  <a href={href('/query', time.asOf)} title="query this attribute" onClick={() => rememberQuery(query(ident))}>
                    <code>:{ident}</code>
                  </a>
                  {a.doc && <div class="hint">{a.doc}</div>}
                </td>
                <td>{kw(a.valueType)}</td>
                <td>{kw(a.cardinality)}</td>
                <td>{kw(a.unique)}</td>
                <td>{flags}</td>
                <td class="num count">{a.count}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
