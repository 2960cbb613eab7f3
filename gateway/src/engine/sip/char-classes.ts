/**
 * Character classes of the SIP grammar (RFC 3261 §25.1), as lookup tables indexed by char code.
 *
 * The parser and the URI/header readers scan text one char code at a time against these tables
 * instead of using regular expressions, so the cost is linear and there is nothing to backtrack.
 * https://tools.ietf.org/html/rfc3261#section-25.1
 */

const TOKEN = 1;
const UNRESERVED = 2;
const USER = 4;
const PASSWORD = 8;
const PARAM = 16;
const HNV = 32;
const WORD = 64;

const table = new Uint8Array(128);

function mark(chars: string, cls: number): void {
  for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] |= cls;
}

const ALPHANUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

// token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
mark(ALPHANUM + "-.!%*_+`'~", TOKEN);
// word = 1*(token chars / "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}")
mark(ALPHANUM + "-.!%*_+`'~" + '()<>:\\"/[]?{}', WORD);
// unreserved = alphanum / mark;  mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
mark(ALPHANUM + "-_.!~*'()", UNRESERVED);
// user = 1*( unreserved / escaped / user-unreserved );  user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
// Tolerance: "#" is also accepted in the user part (keypad feature codes such as "*72#" are common in the
// wild although RFC 3261 wants it escaped as %23).
mark(ALPHANUM + "-_.!~*'()" + '&=+$,;?/' + '#', USER);
// password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
mark(ALPHANUM + "-_.!~*'()" + '&=+$,', PASSWORD);
// paramchar = param-unreserved / unreserved / escaped;  param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$"
mark(ALPHANUM + "-_.!~*'()" + '[]/:&+$', PARAM);
// hname / hvalue = hnv-unreserved / unreserved / escaped;  hnv-unreserved = "[" / "]" / "/" / "?" / ":" / "+" / "$"
mark(ALPHANUM + "-_.!~*'()" + '[]/?:+$', HNV);

function has(code: number, cls: number): boolean {
  return code < 128 && (table[code] & cls) !== 0;
}

export const isTokenChar = (code: number): boolean => has(code, TOKEN);
export const isWordChar = (code: number): boolean => has(code, WORD);
export const isUserChar = (code: number): boolean => has(code, USER);
export const isPasswordChar = (code: number): boolean => has(code, PASSWORD);
export const isUriParamChar = (code: number): boolean => has(code, PARAM);
export const isUriHeaderChar = (code: number): boolean => has(code, HNV);

export function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

export function isHexDigit(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 70) || (code >= 97 && code <= 102);
}

export function isAlpha(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

/** SP or HTAB: the WSP of RFC 3261 §25.1 (line folding has been undone before values are read). */
export function isWsp(code: number): boolean {
  return code === 32 || code === 9;
}

/** True when the whole (non-empty) string is a token. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTokenChar(s.charCodeAt(i))) return false;
  return true;
}

/** True when the whole string is 1*DIGIT. */
export function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}

/**
 * True when every char of `s` is in `cls` or is an escape "%" HEXDIG HEXDIG (RFC 3261 §25.1 `escaped`).
 */
export function isEscapedRun(s: string, isAllowed: (code: number) => boolean): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 /* % */) {
      if (!isHexDigit(s.charCodeAt(i + 1)) || !isHexDigit(s.charCodeAt(i + 2))) return false;
      i += 2;
    } else if (!isAllowed(c)) return false;
  }
  return true;
}

/** Skip SP/HTAB from `i`; returns the first index that is not white space. */
export function skipWsp(s: string, i: number): number {
  while (i < s.length && isWsp(s.charCodeAt(i))) i++;
  return i;
}
