/** Page exports get a portable file name: ASCII, no spaces, no characters a shell or a file system objects to. */
import { describe, expect, it } from 'vitest';
import { portableFileName } from '../../src/ui/file-name';

describe('portableFileName', () => {
  it('keeps ASCII words and joins the rest with one hyphen', () => {
    expect(portableFileName('demo · 2026-12-07 23:40:11', '.iwb')).toBe('demo-2026-12-07-23-40-11.iwb');
    expect(portableFileName('Café résumé', '.iwb')).toBe('Cafe-resume.iwb');
    expect(portableFileName('../../etc/passwd', '.iwb')).toBe('etc-passwd.iwb');
    expect(portableFileName('a "quoted" name <1>|*?', '.csv')).toBe('a-quoted-name-1.csv');
  });

  it('falls back when nothing portable is left, and stays short', () => {
    expect(portableFileName('数据 🚀', '.iwb')).toBe('run.iwb');
    expect(portableFileName('', '.iwb', 'bundle')).toBe('bundle.iwb');
    const long = portableFileName('x'.repeat(300), '.iwb');
    expect(long).toBe(`${'x'.repeat(100)}.iwb`);
    for (const name of [long, portableFileName('a b\tc\nd', '.iwb')]) expect(name).toMatch(/^[A-Za-z0-9._-]+$/);
  });
});
