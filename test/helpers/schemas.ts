// Schemas several test files transact: attribute definitions (one EDN map each) and the schemas
// made of them. Order is kept where composed, so attributes get the same entity ids as before.

/** A schema transaction of these attribute maps, in this order. */
export function schema(...attrs: string[]): string {
  return `[\n ${attrs.join('\n ')}]`;
}

/** :person/... attributes: people with an email identity, friends, tags and an address. */
export const PERSON = {
  email: '{:db/ident :person/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}',
  name: '{:db/ident :person/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}',
  /** The name as the identity (pull and query tests). */
  uniqueName: '{:db/ident :person/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}',
  age: '{:db/ident :person/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}',
  friend: '{:db/ident :person/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}',
  tags: '{:db/ident :person/tags :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many}',
  address: '{:db/ident :person/address :db/valueType :db.type/ref :db/cardinality :db.cardinality/one :db/isComponent true}',
  city: '{:db/ident :address/city :db/valueType :db.type/string :db/cardinality :db.cardinality/one}',
  color: '{:db/ident :person/color :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}',
} as const;

/** :p/... attributes: short names for index and storage tests. */
export const P = {
  name: '{:db/ident :p/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}',
  uniqueName: '{:db/ident :p/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}',
  age: '{:db/ident :p/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}',
  friend: '{:db/ident :p/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}',
  /** Not kept in history (:db/noHistory). */
  seen: '{:db/ident :p/seen :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/noHistory true}',
} as const;

/** People who are friends: email identity, name, age, friends, tags. */
export const PEOPLE_SCHEMA = schema(PERSON.email, PERSON.name, PERSON.age, PERSON.friend, PERSON.tags);

/** A history with everything storage keeps apart: an identity, a :db/noHistory attribute, a ref. */
export const SEEN_FRIENDS_SCHEMA = schema(P.uniqueName, P.seen, P.friend);
