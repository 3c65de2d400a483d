// Where /login?next=… may send a person after signing in: a path on this site
// only, never an open redirect. The check is the browser's own URL parser, not
// a look at the string's first characters: the parser drops tabs and newlines,
// so "/\t/evil.example" passed a "starts with / but not //" test and then
// resolved to http://evil.example/. The path returned is the parsed one.
export function sameSitePath(raw: string | null, origin: string): string | null {
  if (!raw || !raw.startsWith('/')) return null;
  let url: URL;
  try {
    url = new URL(raw, origin);
  } catch {
    return null;
  }
  if (url.origin !== new URL(origin).origin) return null;
  return `${url.pathname}${url.search}${url.hash}`;
}
