/** The one error payload decryption throws, whatever went wrong, so callers need a single catch. */
export class DecryptError extends Error {
  override readonly name = 'DecryptError';
}
