#!/usr/bin/env node
// Parse cost: 10,000 distinct queries as text and as JS data, rule sets and pull patterns (all
// cache misses), then repeated texts (cache hits). `node scripts/measure-parse.mjs [dist=../dist]`
// after `npm run build`; a dist directory given as argument compares another build.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const dist = process.argv[2] ? path.resolve(process.argv[2]) : path.join(import.meta.dirname, '..', 'dist');
const { parseQuery, parsePull, parseRules } = await import(pathToFileURL(path.join(dist, 'query-lang/datalog/index.js')).href);
const attrs = ['name', 'age', 'sex', 'person/friend', 'last-name', 'salary'];
function textQuery(i) {
  const a = attrs[i % attrs.length],
    b = attrs[(i + 1) % attrs.length];
  const forms = [
    `[:find ?e ?v :where [?e :${a} ?v] [?e :${b} "x${i}"]]`,
    `[:find (count ?e) . :in $ ?min :where [?e :${a} ?v] [(> ?v ?min)] [(+ ?v ${i}) ?w]]`,
    `{:find [[(pull ?e [:${a} {:${b} [*]}]) ...]] :in [$ [?x ...]] :where [[?e :${a} ?x] (not [?e :${b} ${i}])]}`,
    `[:find ?e :in $ % :where [?e :${a} _] (or-join [?e] [?e :${b} ${i}] (and [?e :x ?y] [(pos? ?y)])) (rule${i % 7} ?e)]`,
    `[:find [?a ?b] :keys a b :where [?a :${a} ?b] (not-join [?a] [?a :${b} :k/v${i}]) (or-join [[?a] ?b] [?a :q ?b])]`,
  ];
  return forms[i % forms.length];
}
function jsQuery(i) {
  const a = ':' + attrs[i % attrs.length],
    b = ':' + attrs[(i + 1) % attrs.length];
  return { find: ['?e', ['count', '?v']], in: ['$', '?min'], where: [['?e', a, '?v'], [['>', '?v', '?min']], ['?e', b, 'x' + i], ['not', ['?e', ':banned', i]]] };
}
const N = 10000;
const texts = Array.from({ length: N }, (_, i) => textQuery(i));
const rules = Array.from({ length: 2000 }, (_, i) => `[[(r${i} ?a ?b) [?a :next ?b]] [(r${i} ?a ?b) [?a :next ?x] (r${i} ?x ?b)] [(t${i} [?e]) (not [?e :boss _])]]`);
const pulls = Array.from({ length: 5000 }, (_, i) => `[:a${i} {:b [:c (limit :d ${i % 9})]} [:e :as "E${i}" :default 0] *]`);
const time = (f) => {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
};
const t1 = performance.now();
parseQuery('[:find ?e :where [?e :first ?x]]');
const first = performance.now() - t1;
const results = { first };
results.text = time(() => {
  for (const t of texts) parseQuery(t);
});
const js = Array.from({ length: N }, (_, i) => jsQuery(i));
results.js = time(() => {
  for (const x of js) parseQuery(x);
});
results.rules = time(() => {
  for (const r of rules) parseRules(r);
});
results.pull = time(() => {
  for (const p of pulls) parsePull(p);
});
results.hits = time(() => {
  for (let k = 0; k < 20; k++) for (const t of texts.slice(0, 500)) parseQuery(t);
});
console.log(JSON.stringify(Object.fromEntries(Object.entries(results).map(([k, v]) => [k, +v.toFixed(1)]))));
