// Aggregates folded into a tree of joins on entity ids: `[:find ?city (sum ?t) :with ?o :where [?o
// :order/customer ?c] [?c :person/city ?city] [?o :order/total ?t]]` reads each attribute once
// into an entity-keyed multimap and feeds the aggregated bag tuple by tuple to one accumulator per
// group, instead of materializing the joined relation, projecting it and removing duplicates.
import type { AggregateElem, FindElem, PatternClause, Query } from '../../query-lang/datalog/ast.js';
import type { DbView, EntityColumn } from '../db/api.js';
import type { QueryContext } from './context.js';
import { isDb } from './context.js';
import { isUnit, type Relation, type Row } from './relation.js';
import { resolveAttr } from './pattern.js';
import { joinKey, tupleKey } from './values.js';
import { growing, tick } from './budget.js';
import { printClause } from './print.js';
import { FactlogError } from '../../query-lang/errors.js';
import { FOLDS, FoldGroups, type Fold } from './fold.js';

/** One pattern `[?x :attr ?y]`, an edge from the entity variable ?x to ?y. */
interface Edge {
  clause: PatternClause;
  attr: number;
  from: string;
  to: string;
}

/** A variable of the tree: the patterns reading its entity's attributes, and the bag variables below it (in tuple order). */
interface TreeNode {
  name: string;
  children: Edge[];
  /** Bag variables of the subtree below this node, this node's own excluded, in the order expand emits them. */
  below: string[];
}

/**
 * An attribute's distinct (e, v) pairs, by entity: start(e) is the slot of e's first value (-1:
 * none), after(i) the slot of the next value of the same entity (-1: no more).
 */
interface EntityValues {
  start(e: number): number;
  after(i: number): number;
  readonly vs: readonly unknown[];
  entities(): Iterable<number>;
  readonly size: number;
  /** No entity has two values. */
  readonly singleValued: boolean;
}

/** Pairs chained per entity without an array per entity, for values with no column (a history). */
class Multimap implements EntityValues {
  readonly head = new Map<number, number>();
  readonly next: number[] = [];
  readonly vs: unknown[] = [];
  singleValued = true;
  start(e: number): number {
    return this.head.get(e) ?? -1;
  }
  after(i: number): number {
    return this.next[i]!;
  }
  entities(): Iterable<number> {
    return this.head.keys();
  }
  get size(): number {
    return this.vs.length;
  }
}

/** An attribute column held in memory (a current, asOf or since value; a history's distinct pairs): its datoms are a set, grouped by entity. */
class ColumnValues implements EntityValues {
  readonly singleValued: boolean;
  constructor(private readonly col: EntityColumn) {
    this.singleValued = singleValuedColumns.get(col) ?? strictlyRising(col.es);
    singleValuedColumns.set(col, this.singleValued);
  }
  get vs(): readonly unknown[] {
    return this.col.vs;
  }
  start(e: number): number {
    return this.col.slotOf(e);
  }
  after(i: number): number {
    const es = this.col.es;
    return i + 1 < es.length && es[i + 1] === es[i] ? i + 1 : -1;
  }
  *entities(): Iterable<number> {
    const es = this.col.es;
    for (let i = 0; i < es.length; i++) if (i === 0 || es[i] !== es[i - 1]) yield es[i]!;
  }
  get size(): number {
    return this.col.es.length;
  }
}

/** Whether a held column has one value per entity, found once per column (columns are immutable). */
const singleValuedColumns = new WeakMap<EntityColumn, boolean>();

function strictlyRising(es: readonly number[]): boolean {
  for (let i = 1; i < es.length; i++) if (es[i - 1]! >= es[i]!) return false;
  return true;
}

function elements(q: Query): FindElem[] {
  return q.find.kind === 'find-rel' || q.find.kind === 'find-tuple' ? q.find.elements : [q.find.element];
}

/** The edges of a where clause made only of `[?x :attr ?y]` patterns on $, else null. */
function edgesOf(q: Query): Edge[] | null {
  if (q.where.length < 2) return null;
  const out: Edge[] = [];
  for (const c of q.where) {
    if (c.kind !== 'pattern' || (c.src && c.src.name !== '$') || c.terms.length !== 3) return null;
    const [e, a, v] = c.terms;
    if (e?.kind !== 'var' || a?.kind !== 'const' || v?.kind !== 'var' || e.name === v.name) return null;
    out.push({ clause: c, attr: -1, from: e.name, to: v.name });
  }
  return out;
}

/**
 * The root of the edges when they form a tree directed away from it (every other variable the
 * value of exactly one pattern), else null. Under a tree, the bindings below a node are the
 * product of its children's, which is what lets expand remove duplicates locally.
 */
function rootOf(edges: Edge[]): string | null {
  const targets = new Set<string>();
  for (const ed of edges) {
    if (targets.has(ed.to)) return null;
    targets.add(ed.to);
  }
  const roots = new Set(edges.filter((ed) => !targets.has(ed.from)).map((ed) => ed.from));
  if (roots.size !== 1) return null;
  const root = [...roots][0]!;
  // connected and acyclic: every edge reachable from the root
  const reached = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const ed of edges) {
      if (!reached.has(ed.from) || reached.has(ed.to)) continue;
      reached.add(ed.to);
      grew = true;
    }
  }
  return edges.every((ed) => reached.has(ed.to)) ? root : null;
}

function buildTree(name: string, edges: Edge[], bag: Set<string>, nodes: Map<string, TreeNode>): TreeNode {
  const node: TreeNode = { name, children: edges.filter((ed) => ed.from === name), below: [] };
  nodes.set(name, node);
  for (const ed of node.children) {
    const child = buildTree(ed.to, edges, bag, nodes);
    if (bag.has(ed.to)) node.below.push(ed.to);
    node.below.push(...child.below);
  }
  return node;
}

/** One attribute's values by entity: its column (a history's pairs) when the value has or builds one, else read into a multimap. */
function readAttr(db: DbView, attr: number): EntityValues {
  const col = db.isHistory ? db.historyPairs(attr, (pairs) => growing(pairs, 1)) : db.column(attr, Infinity);
  if (col) {
    growing(col.es.length, 1);
    return new ColumnValues(col);
  }
  const m = new Multimap();
  const { head, next, vs } = m;
  // a history repeats (e, v) pairs, kept once
  const dedup = db.isHistory;
  db.visitDatoms('aevt', [attr], (e, _a, v) => {
    tick();
    const first = head.get(e);
    if (dedup && first !== undefined) {
      const k = joinKey(v);
      for (let i = first; i >= 0; i = next[i]!) if (joinKey(vs[i]) === k) return;
    }
    growing(vs.length, 1);
    if (first !== undefined) m.singleValued = false;
    next.push(first ?? -1);
    vs.push(v);
    head.set(e, vs.length - 1);
  });
  return m;
}

const EMPTY: Row[] = [];
const ONE_EMPTY: Row[] = [[]];

/** Rows with duplicates (by joinKey of each column) removed; a list of one row needs no look. */
function distinctTuples(rows: Row[]): Row[] {
  if (rows.length <= 1) return rows;
  const seen = new Set<unknown>();
  const out: Row[] = [];
  for (const r of rows) {
    const k = r.length === 1 ? joinKey(r[0]) : tupleKey(r);
    if (!seen.has(k)) {
      seen.add(k);
      out.push(r);
    }
  }
  return out;
}

class TreeFold {
  private readonly memo = new Map<TreeNode, Map<number, Row[]>>();

  constructor(
    private readonly maps: Map<Edge, EntityValues>,
    private readonly nodes: Map<string, TreeNode>,
    private readonly bag: Set<string>,
  ) {}

  /** The distinct tuples of `node.below` bound under entity `x` (memoised below the root, where entities repeat). */
  expand(node: TreeNode, value: unknown, memoise: boolean): Row[] {
    if (node.children.length === 0) return ONE_EMPTY;
    // an entity id joins as a number (a bigint of one too); any other value names no entity
    const x = joinKey(value);
    if (typeof x !== 'number') return EMPTY;
    let cache: Map<number, Row[]> | undefined;
    if (memoise) {
      cache = this.memo.get(node);
      if (!cache) this.memo.set(node, (cache = new Map()));
      const hit = cache.get(x);
      if (hit) return hit;
    }
    let acc: Row[] = ONE_EMPTY;
    for (const ed of node.children) {
      tick();
      const options = this.optionsOf(ed, x);
      if (options.length === 0) {
        acc = EMPTY;
        break;
      }
      acc = options.length === 1 && acc.length === 1 ? [acc[0]!.concat(options[0]!)] : acc.flatMap((l) => options.map((r) => l.concat(r)));
    }
    cache?.set(x, acc);
    return acc;
  }

  /** The distinct tuples one child edge gives under entity x: its value (when in the bag) and what lies below it. */
  private optionsOf(ed: Edge, x: number): Row[] {
    const m = this.maps.get(ed)!;
    const child = this.nodes.get(ed.to)!;
    const kept = this.bag.has(ed.to);
    let out: Row[] = [];
    let i = m.start(x);
    if (i < 0) return EMPTY;
    for (; i >= 0; i = m.after(i)) {
      const y = m.vs[i];
      const below = this.expand(child, y, true);
      if (kept) for (const r of below) out.push([y, ...r]);
      else if (out.length === 0) out = below.slice();
      else out.push(...below);
    }
    // values differ from one another, so only tuples without the value can repeat
    return kept ? out : distinctTuples(out);
  }
}

/** The positions, in the root-first tuple, of each find element's variable; null when a variable is not in the tree. */
function columnsOf(q: Query, order: string[]): { fold: Fold | null; at: number }[] | null {
  const out: { fold: Fold | null; at: number }[] = [];
  for (const el of elements(q)) {
    let name: string;
    let fold: Fold | null = null;
    if (el.kind === 'var') name = el.name;
    else if (el.kind === 'aggregate') {
      const agg = el as AggregateElem;
      if (agg.fn.kind !== 'fn-name' || !FOLDS.has(agg.fn.name) || agg.args.length !== 1 || agg.args[0]!.kind !== 'var') return null;
      name = agg.args[0]!.name;
      fold = agg.fn.name as Fold;
    } else return null;
    const at = order.indexOf(name);
    if (at < 0) return null;
    out.push({ fold, at });
  }
  return out.some((c) => c.fold) ? out : null;
}

/**
 * The query's result when its where is a tree of `[?x :attr ?y]` patterns joined on entity ids,
 * rooted at a variable of the aggregated bag (found or :with), and its find is group variables
 * and foldable aggregates; null when the general path must run.
 */
export function joinFoldedResult(ctx: QueryContext, q: Query, bound: Relation): { result: unknown } | null {
  if (!isUnit(bound) || ctx.rules.size > 0 || q.returnMap) return null;
  const edges = edgesOf(q);
  if (!edges) return null;
  const db = ctx.sources.get('$');
  if (!isDb(db)) return null;
  const root = rootOf(edges);
  const els = elements(q);
  const bag = new Set<string>([
    ...els.map((e) => (e.kind === 'var' ? e.name : e.kind === 'aggregate' ? ((e as AggregateElem).args.at(-1) as { name?: string })?.name : undefined) ?? ''),
    ...q.with.map((w) => w.name),
  ]);
  if (!root || !bag.has(root)) return null;
  for (const ed of edges) {
    const info = resolveAttr(ctx, db, (ed.clause.terms[1] as { value: unknown }).value);
    if (!info) return null;
    ed.attr = info.id;
  }
  const nodes = new Map<string, TreeNode>();
  const tree = buildTree(root, edges, bag, nodes);
  const order = [root, ...tree.below];
  if ([...bag].some((v) => !order.includes(v))) return null;
  const cols = columnsOf(q, order);
  if (!cols) return null;
  const t0 = ctx.trace ? performance.now() : 0;
  try {
    const { rows, read } = foldTree(db, edges, nodes, tree, bag, cols);
    ctx.trace?.push({
      clause: edges.map((ed) => printClause(ed.clause)).join(' '),
      index: 'aevt',
      strategy: 'aggregated in the join',
      estimatedRows: rows.length,
      actualRows: rows.length,
      datomsRead: read,
      ms: performance.now() - t0,
    });
    return { result: shaped(q, rows) };
  } catch (err) {
    // limits stop the query; any other failure (a sum of strings) is reported as the general path reports it
    if (err instanceof FactlogError && (err.code === 'query/timeout' || err.code === 'query/too-large')) throw err;
    return null;
  }
}

function foldTree(db: DbView, edges: Edge[], nodes: Map<string, TreeNode>, tree: TreeNode, bag: Set<string>, cols: { fold: Fold | null; at: number }[]): { rows: Row[]; read: number } {
  const maps = new Map<Edge, EntityValues>();
  let read = 0;
  for (const ed of edges) {
    const m = readAttr(db, ed.attr);
    read += m.size;
    maps.set(ed, m);
  }
  const groups = new FoldGroups(
    cols.map((c) => c.fold),
    cols.map((c) => c.at),
    groupKeyOf(),
  );
  // the root's entities: those of its first pattern (each of the others must match too)
  const first = maps.get(tree.children[0]!)!;
  const steps = walkSteps(tree, nodes, maps, bag);
  if (steps) {
    const row: unknown[] = new Array(1 + tree.below.length);
    const ents: number[] = new Array(nodes.size).fill(0);
    const emit = () => groups.add(row);
    for (const r of first.entities()) {
      tick();
      row[0] = r;
      ents[0] = r;
      walk(steps, 0, ents, row, emit);
    }
    return { rows: groups.rows() as Row[], read };
  }
  const fold = new TreeFold(maps, nodes, bag);
  for (const r of first.entities()) {
    tick();
    for (const below of fold.expand(tree, r, false)) groups.add([r, ...below]);
  }
  return { rows: groups.rows() as Row[], read };
}

/**
 * A group's key in the Map, one per tuple: a string value's key is made once per distinct string
 * (a column hands out the same string objects, whose hashes are kept), not concatenated per tuple.
 */
function groupKeyOf(): (key: unknown[]) => unknown {
  const stringKeys = new Map<string, unknown>();
  return (key) => {
    if (key.length !== 1) return tupleKey(key);
    const v = key[0];
    if (typeof v !== 'string') return joinKey(v);
    let k = stringKeys.get(v);
    if (k === undefined) stringKeys.set(v, (k = joinKey(v)));
    return k;
  };
}

/** One pattern of a walk: where its entity is (in `ents`), where its value goes in the row (-1: nowhere) and in `ents` (-1: a leaf). */
interface Step {
  values: EntityValues;
  from: number;
  kept: number;
  to: number;
  /** A leaf outside the bag: only whether the entity has a value counts. */
  existsOnly: boolean;
}

/**
 * The patterns in the order expand emits their variables, when no tuple can repeat without
 * removing duplicates: every pattern whose value is outside the bag and has patterns below it
 * holds one value per entity. Then each root's tuples are the nested loop over the patterns'
 * values, written into one row, with no row per tuple, no memo and no duplicate check. Else null.
 */
function walkSteps(tree: TreeNode, nodes: Map<string, TreeNode>, maps: Map<Edge, EntityValues>, bag: Set<string>): Step[] | null {
  const rowAt = new Map([tree.name, ...tree.below].map((v, i) => [v, i]));
  const entAt = new Map([[tree.name, 0]]);
  const steps: Step[] = [];
  const add = (node: TreeNode): boolean => {
    for (const ed of node.children) {
      const child = nodes.get(ed.to)!;
      const values = maps.get(ed)!;
      const kept = bag.has(ed.to);
      const inner = child.children.length > 0;
      if (!kept && inner && !values.singleValued) return false;
      if (inner) entAt.set(ed.to, entAt.size);
      steps.push({ values, from: entAt.get(ed.from)!, kept: kept ? rowAt.get(ed.to)! : -1, to: inner ? entAt.get(ed.to)! : -1, existsOnly: !kept && !inner });
      if (!add(child)) return false;
    }
    return true;
  };
  return add(tree) ? steps : null;
}

function walk(steps: Step[], k: number, ents: number[], row: unknown[], emit: () => void): void {
  if (k === steps.length) return emit();
  const s = steps[k]!;
  const m = s.values;
  let i = m.start(ents[s.from]!);
  if (i < 0) return;
  if (s.existsOnly) return walk(steps, k + 1, ents, row, emit);
  const vs = m.vs;
  for (; i >= 0; i = m.after(i)) {
    const y = vs[i];
    if (s.kept >= 0) row[s.kept] = y;
    if (s.to >= 0) {
      // an entity id joins as a number (a bigint of one too); any other value names no entity
      const x = typeof y === 'number' ? y : joinKey(y);
      if (typeof x !== 'number') continue;
      ents[s.to] = x;
    }
    walk(steps, k + 1, ents, row, emit);
  }
}

function shaped(q: Query, rows: Row[]): unknown {
  switch (q.find.kind) {
    case 'find-rel':
      return rows;
    case 'find-tuple':
      return rows[0] ?? null;
    case 'find-scalar':
      return rows.length ? rows[0]![0] : null;
    case 'find-coll':
      return rows.map((r) => r[0]);
  }
}
