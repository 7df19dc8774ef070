/** An input error: one line that names the file (and line, field or node) and what is wrong. */
export class InputError extends Error {
  override readonly name = 'InputError';
}
