/**
 * A file name any system and shell take without quoting: ASCII letters, digits, '.', '_' and '-' only. Accents are
 * dropped (é → e), every other run of characters (spaces, '·', slashes, quotes, emoji) becomes one '-', and leading or
 * trailing separators go. A name with nothing left is `fallback`. At most 100 characters before the extension.
 */
export function portableFileName(name: string, extension: string, fallback = 'run'): string {
  const ascii = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[-._]+|[-._]+$/g, '')
    .slice(0, 100)
    .replace(/[-._]+$/, '');
  return `${ascii || fallback}${extension}`;
}
