/**
 * Header parameters and quoted strings (RFC 3261 §7.3.1, §25.1: generic-param, quoted-string).
 *
 * Two readers live here:
 * - `readGenericParams`, strict: used when a whole header value is parsed (parseNameAddr, parseVia);
 *   it refuses empty parameters such as ";;" (RFC 4475 §3.1.2.1).
 * - `getHeaderParam` / `setHeaderParam` / `removeHeaderParam`, lenient and fast: they find one
 *   parameter of the first value in a header text without parsing the rest, for the hot paths that
 *   only need a tag or a branch.
 */
import { isTokenChar, isWsp, skipWsp } from './char-classes';
import { SipParseError } from './parse-error';

/**
 * quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE (RFC 3261 §25.1), starting at the
 * opening quote `s[i]`. Returns the unescaped content and the index after the closing quote.
 * CR and LF are refused, escaped or not: they could split the header when the text is re-sent.
 */
export function readQuotedString(s: string, i: number): { text: string; end: number } {
  let text = '';
  let runStart = i + 1;
  for (let j = i + 1; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === 34 /* " */) return { text: text + s.slice(runStart, j), end: j + 1 };
    if (c === 13 || c === 10) break;
    if (c === 92 /* \ */) {
      const next = s.charCodeAt(j + 1);
      if (Number.isNaN(next) || next === 13 || next === 10) break;
      text += s.slice(runStart, j) + s[j + 1];
      j++;
      runStart = j + 1;
    }
  }
  throw new SipParseError('Unterminated quoted string');
}

/**
 * gen-value = token / host / quoted-string. Tolerance: an unquoted value may hold any visible ASCII
 * character but the separators ; , " < > (peers put '/', '@', '=' in unquoted values in practice).
 */
function isParamValueChar(c: number): boolean {
  return c > 32 && c < 127 && c !== 59 && c !== 44 && c !== 34 && c !== 60 && c !== 62;
}

/**
 * *( SEMI generic-param ) from `s[i]` to the end of `s`; SEMI and EQUAL allow white space around them
 * (RFC 3261 §25.1). Names are lower-cased (§7.3.1: parameter names are case-insensitive); values are
 * kept as written, quoted strings with their quotes. The first occurrence of a name wins.
 */
export function readGenericParams(s: string, i: number, params: Map<string, string | null>): void {
  for (;;) {
    i = skipWsp(s, i);
    if (i >= s.length) return;
    if (s.charCodeAt(i) !== 59 /* ; */) throw new SipParseError(`Unexpected text in header value at "${s.slice(i, i + 20)}"`);
    i = skipWsp(s, i + 1);
    const nameStart = i;
    while (i < s.length && isTokenChar(s.charCodeAt(i))) i++;
    if (i === nameStart) throw new SipParseError('Empty header parameter');
    const name = s.slice(nameStart, i).toLowerCase();
    let value: string | null = null;
    i = skipWsp(s, i);
    if (s.charCodeAt(i) === 61 /* = */) {
      i = skipWsp(s, i + 1);
      const valueStart = i;
      if (s.charCodeAt(i) === 34) i = readQuotedString(s, i).end;
      else while (i < s.length && isParamValueChar(s.charCodeAt(i))) i++;
      if (i === valueStart) throw new SipParseError(`Empty value for header parameter ${name}`);
      value = s.slice(valueStart, i);
    }
    if (!params.has(name)) params.set(name, value);
  }
}

/** Serialise a parameter map as ";name=value;flag". */
export function formatParams(params: Map<string, string | null>): string {
  let out = '';
  for (const [name, value] of params) out += value === null ? `;${name}` : `;${name}=${value}`;
  return out;
}

/**
 * Bounds of the first value in a header text: `paramsAt` is its first top-level ';' (outside quotes
 * and <...>) or -1, `end` its first top-level ',' or the text length.
 */
function locateParams(value: string): { paramsAt: number; end: number } {
  let depth = 0;
  let paramsAt = -1;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 34 /* " */) {
      i++;
      while (i < value.length && value.charCodeAt(i) !== 34) i += value.charCodeAt(i) === 92 ? 2 : 1;
    } else if (c === 60 /* < */) depth++;
    else if (c === 62 /* > */) depth = Math.max(0, depth - 1);
    else if (depth === 0 && c === 59 && paramsAt < 0) paramsAt = i;
    else if (depth === 0 && c === 44 /* , */) return { paramsAt, end: i };
  }
  return { paramsAt, end: value.length };
}

interface ParamSpan {
  /** Index of the ';' that opens the parameter. */
  start: number;
  /** Index after the parameter's last character (white space before the next ';' excluded). */
  end: number;
  value: string | null;
}

function findParam(text: string, name: string): { span?: ParamSpan; valueEnd: number } {
  const { paramsAt, end: valueEnd } = locateParams(text);
  if (paramsAt < 0) return { valueEnd };
  const wanted = name.toLowerCase();
  let i = paramsAt;
  while (i < valueEnd) {
    let j = i + 1;
    while (j < valueEnd && text.charCodeAt(j) !== 59) {
      if (text.charCodeAt(j) === 34) {
        j++;
        while (j < valueEnd && text.charCodeAt(j) !== 34) j += text.charCodeAt(j) === 92 ? 2 : 1;
      }
      j++;
    }
    j = Math.min(j, valueEnd);
    const segment = text.slice(i + 1, j);
    const eq = segment.indexOf('=');
    const segName = (eq >= 0 ? segment.slice(0, eq) : segment).trim().toLowerCase();
    if (segName === wanted) {
      let end = j;
      while (end > i + 1 && isWsp(text.charCodeAt(end - 1))) end--;
      return { span: { start: i, end, value: eq >= 0 ? segment.slice(eq + 1).trim() : null }, valueEnd };
    }
    i = j;
  }
  return { valueEnd };
}

/**
 * A parameter of a name-addr or Via-like header value, outside <...> (RFC 3261 §20.10: in the
 * addr-spec form every ';' parameter belongs to the header). Returns undefined when absent, null
 * for a flag parameter, else the value as written. Only the first value of a comma list is searched.
 */
export function getHeaderParam(value: string, name: string): string | null | undefined {
  const { span } = findParam(value, name);
  return span ? span.value : undefined;
}

/** Add or replace a header parameter (null makes it a flag); returns the new header text. */
export function setHeaderParam(value: string, name: string, v: string | null): string {
  const param = v === null ? `;${name}` : `;${name}=${v}`;
  const { span, valueEnd } = findParam(value, name);
  if (span) return value.slice(0, span.start) + param + value.slice(span.end);
  let end = valueEnd;
  while (end > 0 && isWsp(value.charCodeAt(end - 1))) end--;
  return value.slice(0, end) + param + value.slice(end);
}

/** Remove a header parameter if present; returns the new header text. */
export function removeHeaderParam(value: string, name: string): string {
  const { span } = findParam(value, name);
  if (!span) return value;
  let start = span.start;
  while (start > 0 && isWsp(value.charCodeAt(start - 1))) start--;
  return value.slice(0, start) + value.slice(span.end);
}
