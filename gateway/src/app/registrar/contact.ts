/**
 * Contact, To and From values for the registrar (RFC 3261 §20.10, §20.20, §20.39; grammar
 * §25.1 name-addr / addr-spec).
 *
 * The registrar must echo each registered Contact in its 200 (§10.3 step 8) so that the UA
 * recognises its own binding: SIP.js 0.21 compares the URI user part (random contact names) or
 * the whole URI (§19.1.4), and reads the binding's lifetime from the `expires` parameter,
 * failing the registration when it is missing. So a contact is kept as its pieces, as written:
 * display name, URI, and each header parameter's original text; the echo is
 * `[display] <uri>;params...;expires=N`. Writing the URI inside <...> always is what keeps
 * URI parameters such as `;transport=ws` from being read as header parameters (drachtio-srf#108).
 */

export class ContactSyntaxError extends Error {}

export interface HeaderParam {
  /** lower-cased name */
  name: string;
  /** unquoted value, null for a flag */
  value: string | null;
  /** the parameter as written, without the leading ';' */
  text: string;
}

export interface NameAddr {
  displayName?: string;
  uri: string;
  params: HeaderParam[];
}

export function param(na: NameAddr, name: string): string | null | undefined {
  const p = na.params.find((x) => x.name === name);
  return p ? p.value : undefined;
}

/** Split a header value on commas outside quotes and <...> (§7.3.1 comma-joined lines). */
export function splitHeaderValues(value: string): string[] {
  const out: string[] = [];
  let inQuote = false;
  let inAngle = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (inQuote) {
      if (ch === '\\') i++;
      else if (ch === '"') inQuote = false;
    } else if (ch === '"') inQuote = true;
    else if (ch === '<') inAngle = true;
    else if (ch === '>') inAngle = false;
    else if (ch === ',' && !inAngle) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  if (inQuote || inAngle) throw new ContactSyntaxError('unbalanced quotes or angle brackets');
  out.push(value.slice(start).trim());
  return out.filter((s) => s.length > 0);
}

function splitParams(text: string): HeaderParam[] {
  const out: HeaderParam[] = [];
  const t = text.trim();
  if (!t) return out;
  if (t[0] !== ';') throw new ContactSyntaxError(`unexpected "${t[0]}" after the URI`);
  let i = 1;
  while (i <= t.length) {
    let j = i;
    let inQuote = false;
    for (; j < t.length; j++) {
      const ch = t[j];
      if (inQuote) {
        if (ch === '\\') j++;
        else if (ch === '"') inQuote = false;
      } else if (ch === '"') inQuote = true;
      else if (ch === ';') break;
    }
    if (inQuote) throw new ContactSyntaxError('unterminated quoted parameter');
    const raw = t.slice(i, j).trim();
    if (!raw) throw new ContactSyntaxError('empty parameter');
    const eq = raw.indexOf('=');
    const name = (eq < 0 ? raw : raw.slice(0, eq)).trim().toLowerCase();
    if (!/^[a-z0-9\-.!%*_+`'~]+$/.test(name)) throw new ContactSyntaxError(`bad parameter name "${name}"`);
    let value: string | null = eq < 0 ? null : raw.slice(eq + 1).trim();
    if (value !== null && value.startsWith('"')) {
      if (value.length < 2 || !value.endsWith('"')) throw new ContactSyntaxError(`bad quoted value for ${name}`);
      value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    }
    const text = eq < 0 ? name : `${raw.slice(0, eq).trim()}=${raw.slice(eq + 1).trim()}`;
    out.push({ name, value, text });
    i = j + 1;
  }
  return out;
}

/** Parse one name-addr or addr-spec with its header parameters. Throws ContactSyntaxError. */
export function parseNameAddr(value: string): NameAddr {
  const v = value.trim();
  if (!v) throw new ContactSyntaxError('empty value');
  let displayName: string | undefined;
  let rest = v;
  if (v[0] === '"') {
    let i = 1;
    for (; i < v.length && v[i] !== '"'; i++) if (v[i] === '\\') i++;
    if (i >= v.length) throw new ContactSyntaxError('unterminated display name');
    displayName = v.slice(0, i + 1);
    rest = v.slice(i + 1).trim();
    if (rest[0] !== '<') throw new ContactSyntaxError('display name without <uri>');
  }
  const lt = rest.indexOf('<');
  if (lt >= 0) {
    const before = rest.slice(0, lt).trim();
    if (before) {
      if (displayName !== undefined || !/^[A-Za-z0-9\-.!%*_+`'~ \t]+$/.test(before)) throw new ContactSyntaxError('bad display name');
      displayName = before;
    }
    const gt = rest.indexOf('>', lt);
    if (gt < 0) throw new ContactSyntaxError('missing ">"');
    const uri = rest.slice(lt + 1, gt).trim();
    if (!/^[a-z][a-z0-9+.-]*:\S+$/i.test(uri)) throw new ContactSyntaxError(`bad URI "${uri}"`);
    return { displayName, uri, params: splitParams(rest.slice(gt + 1)) };
  }
  // addr-spec: every ';' after the URI starts a header parameter (§20.10), so the URI ends there.
  const semi = rest.indexOf(';');
  const uri = (semi < 0 ? rest : rest.slice(0, semi)).trim();
  if (!/^[a-z][a-z0-9+.-]*:[^\s<>"]+$/i.test(uri) || /[,?]/.test(uri)) throw new ContactSyntaxError(`bad URI "${uri}"`);
  return { uri, params: splitParams(semi < 0 ? '' : rest.slice(semi)) };
}

/**
 * The Contact as registered, minus its expires parameter; the 200 appends `;expires=<granted>`
 * (see the file comment). Always name-addr form, whatever form the UA used.
 */
export function registeredContact(na: NameAddr): string {
  const params = na.params.filter((p) => p.name !== 'expires').map((p) => `;${p.text}`);
  return `${na.displayName ? `${na.displayName} ` : ''}<${na.uri}>${params.join('')}`;
}

/** RFC 3261 §20.10 qvalue: 0 to 1 with up to three decimals. */
export function parseQ(value: string | null | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (value === null || !/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(value)) throw new ContactSyntaxError(`bad q value "${value}"`);
  return Number(value);
}

/** RFC 3261 §20.19 / §20.10 delta-seconds; undefined when absent. Throws on garbage. */
export function parseDeltaSeconds(value: string | null | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (value === null || !/^\d{1,10}$/.test(value.trim())) throw new ContactSyntaxError(`bad ${what} "${value ?? ''}"`);
  return Number(value.trim());
}

/** `+sip.instance` (RFC 5626 §4.1 / RFC 5627): `"<urn:uuid:...>"` -> `urn:uuid:...`, lower-cased. */
export function instanceId(na: NameAddr): string | undefined {
  const v = param(na, '+sip.instance');
  if (!v) return undefined;
  return v.replace(/^<|>$/g, '').toLowerCase();
}
